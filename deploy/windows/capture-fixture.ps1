#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
.SYNOPSIS
Captures this Windows machine as a Dozor fixture tree, the input the Windows collectors' tests
read on Linux (tests/fixtures/windows/<machine>/, described in tests/fixtures/windows/README.md).

.DESCRIPTION
Writes, into a new folder:
  README.md                        a stub: date, OS caption; describe the machine before committing
  wmi/<namespace>/<Class>.json     the WMI classes and properties the collectors read
  registry/<name>.reg              reg.exe exports of the keys the collectors read
  fs/<drive>/<path>                1C ibases.v8i of every profile, nethasp.ini, 1C platform folders
  win32/account_policy.json        password and lockout policy (secedit)
  win32/windows_update.json        Windows Update Agent: last search/install, pending updates

The result describes a real machine: serial numbers, UUIDs, MachineGuid, SIDs, user and host
names, addresses, licence key fragments and infobase paths. Review and anonymise it before it goes
into the repository.

Windows 7 needs WMF 5.1 (KB3191566) first.

.PARAMETER OutDir
The folder to create. It must not exist yet: a capture is never merged into an older one.

.PARAMETER NoHiveLoad
Do not load the registry hives of users who are not logged on. Without this switch their
NTUSER.DAT is loaded read-only for a moment so that per-user installs (Telegram, AnyDesk, ...)
are captured too.

.PARAMETER SkipUpdateSearch
Do not ask Windows Update for pending updates (an online search can take minutes). The last
search/install dates are still recorded.

.EXAMPLE
powershell.exe -NoProfile -ExecutionPolicy Bypass -File .\capture-fixture.ps1 -OutDir C:\Temp\srv-1c
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [Alias('Output')]
    [string]$OutDir,
    [switch]$NoHiveLoad,
    [switch]$SkipUpdateSearch
)

Set-StrictMode -Version 2.0
$ErrorActionPreference = 'Stop'

# A 32-bit PowerShell on 64-bit Windows sees the WOW64 view of HKLM\SOFTWARE, of reg.exe and of
# Program Files: the capture would silently describe the 32-bit side only.
if ([Environment]::Is64BitOperatingSystem -and -not [Environment]::Is64BitProcess) {
    throw 'Run this script from 64-bit PowerShell (C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe).'
}

# Relative to PowerShell's location, not to the process' current directory (they differ).
$OutDir = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($OutDir)
if (Test-Path -LiteralPath $OutDir) {
    throw ('{0} already exists; give a new folder so that this capture is not mixed with another.' -f $OutDir)
}
[void][IO.Directory]::CreateDirectory($OutDir)

$Utf8NoBom = New-Object System.Text.UTF8Encoding($false)

# ------------------------------------------------------------------------------------- helpers

function Write-FixtureFile {
    param([string]$RelativePath, [string]$Text, [System.Text.Encoding]$Encoding = $Utf8NoBom)
    $path = Join-Path $OutDir $RelativePath
    [void][IO.Directory]::CreateDirectory((Split-Path -Parent $path))
    [IO.File]::WriteAllText($path, $Text, $Encoding)
}

function Invoke-Native {
    param([string]$FilePath, [string[]]$ArgumentList)
    # Windows PowerShell turns a native program's stderr lines into error records, and with
    # $ErrorActionPreference = 'Stop' the first one would end the script. Only the exit code and
    # the text matter here.
    $saved = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $output = & $FilePath @ArgumentList 2>&1 | Out-String
        return [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = $output }
    } finally {
        $ErrorActionPreference = $saved
    }
}

function New-TempPath([string]$Extension) {
    Join-Path $env:TEMP ('dozor-capture-{0}{1}' -f [guid]::NewGuid().ToString('N'), $Extension)
}

# ----------------------------------------------------------------------------------------- WMI

# What the collectors read, class by class. Each file gets exactly these properties, in this
# order; one the class lacks on this Windows version (HypervisorPresent on Windows 7) is null.
$WmiClasses = @(
    @{ Ns = 'root/cimv2'; Class = 'Win32_OperatingSystem'; Props = 'Caption', 'Version', 'BuildNumber', 'OSArchitecture', 'InstallDate', 'LastBootUpTime', 'LocalDateTime', 'CSName', 'TotalVisibleMemorySize', 'OperatingSystemSKU', 'ProductType', 'CurrentTimeZone', 'MUILanguages', 'CountryCode' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_ComputerSystem'; Props = 'Manufacturer', 'Model', 'DNSHostName', 'Domain', 'PartOfDomain', 'Workgroup', 'TotalPhysicalMemory', 'NumberOfProcessors', 'NumberOfLogicalProcessors', 'HypervisorPresent', 'PCSystemType', 'DomainRole' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_Processor'; Props = 'Name', 'NumberOfCores', 'NumberOfLogicalProcessors', 'MaxClockSpeed', 'SocketDesignation', 'Manufacturer' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_PhysicalMemory'; Props = 'BankLabel', 'DeviceLocator', 'Capacity', 'Speed', 'ConfiguredClockSpeed', 'Manufacturer', 'PartNumber', 'SerialNumber', 'SMBIOSMemoryType' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_BIOS'; Props = 'Manufacturer', 'SMBIOSBIOSVersion', 'ReleaseDate', 'SerialNumber' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_BaseBoard'; Props = 'Manufacturer', 'Product', 'SerialNumber' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_ComputerSystemProduct'; Props = 'UUID', 'IdentifyingNumber', 'Vendor', 'Name' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_SystemEnclosure'; Props = @('ChassisTypes') }
    @{ Ns = 'root/cimv2'; Class = 'Win32_DiskDrive'; Props = 'DeviceID', 'Index', 'Model', 'SerialNumber', 'Size', 'InterfaceType', 'MediaType', 'PNPDeviceID', 'Status' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_LogicalDisk'; Props = 'DeviceID', 'DriveType', 'FileSystem', 'Size', 'FreeSpace', 'VolumeName', 'ProviderName' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_Battery'; Props = 'Name', 'DeviceID', 'EstimatedChargeRemaining', 'BatteryStatus', 'DesignCapacity', 'FullChargeCapacity' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_NetworkAdapter'; Props = 'Index', 'InterfaceIndex', 'Name', 'NetConnectionID', 'MACAddress', 'Speed', 'NetConnectionStatus', 'PhysicalAdapter', 'AdapterType' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_NetworkAdapterConfiguration'; Props = 'Index', 'InterfaceIndex', 'Description', 'MACAddress', 'IPEnabled', 'IPAddress', 'IPSubnet', 'DefaultIPGateway', 'DNSServerSearchOrder', 'DNSDomainSuffixSearchOrder', 'DHCPEnabled', 'DNSDomain' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_Service'; Props = 'Name', 'DisplayName', 'State', 'StartMode', 'PathName', 'StartName' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_Process'; Props = 'ProcessId', 'Name', 'ExecutablePath' }
    # Without the filter a domain member lists every account and group of the domain.
    @{ Ns = 'root/cimv2'; Class = 'Win32_UserAccount'; Props = 'Name', 'Domain', 'SID', 'Disabled', 'LocalAccount', 'FullName'; Filter = 'LocalAccount=True' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_Group'; Props = 'Name', 'Domain', 'SID', 'LocalAccount'; Filter = 'LocalAccount=True' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_OptionalFeature'; Props = 'Name', 'InstallState' }
    @{ Ns = 'root/cimv2'; Class = 'Win32_QuickFixEngineering'; Props = 'HotFixID', 'Description', 'InstalledOn' }
    @{ Ns = 'root/cimv2'; Class = 'SoftwareLicensingProduct'; Props = 'Name', 'ApplicationID', 'PartialProductKey', 'LicenseStatus', 'GracePeriodRemaining' }
    @{ Ns = 'root/cimv2/security/microsoftvolumeencryption'; Class = 'Win32_EncryptableVolume'; Props = 'DeviceID', 'DriveLetter', 'ProtectionStatus', 'ConversionStatus', 'EncryptionMethod', 'VolumeType' }
    @{ Ns = 'root/securitycenter2'; Class = 'AntiVirusProduct'; Props = 'displayName', 'instanceGuid', 'pathToSignedProductExe', 'productState', 'timestamp' }
    @{ Ns = 'root/securitycenter2'; Class = 'FirewallProduct'; Props = 'displayName', 'productState' }
    @{ Ns = 'root/microsoft/windows/defender'; Class = 'MSFT_MpComputerStatus'; Props = 'AMServiceEnabled', 'AntivirusEnabled', 'RealTimeProtectionEnabled', 'AntivirusSignatureLastUpdated', 'AntivirusSignatureAge', 'AntivirusSignatureVersion', 'AMProductVersion', 'IsTamperProtected' }
    @{ Ns = 'root/standardcimv2'; Class = 'MSFT_NetFirewallProfile'; Props = 'Name', 'Enabled' }
    @{ Ns = 'root/standardcimv2'; Class = 'MSFT_NetTCPConnection'; Props = 'LocalAddress', 'LocalPort', 'RemoteAddress', 'RemotePort', 'State', 'OwningProcess' }
    @{ Ns = 'root/standardcimv2'; Class = 'MSFT_NetUDPEndpoint'; Props = 'LocalAddress', 'LocalPort', 'OwningProcess' }
    @{ Ns = 'root/wmi'; Class = 'MSStorageDriver_FailurePredictStatus'; Props = 'InstanceName', 'PredictFailure', 'Reason', 'Active' }
    @{ Ns = 'root/wmi'; Class = 'MSStorageDriver_FailurePredictData'; Props = 'InstanceName', 'VendorSpecific' }
    @{ Ns = 'root/microsoft/windows/storage'; Class = 'MSFT_PhysicalDisk'; Props = 'DeviceId', 'FriendlyName', 'SerialNumber', 'MediaType', 'BusType', 'HealthStatus', 'OperationalStatus', 'Size' }
)
$GroupUserProps = 'GroupComponent', 'PartComponent'
$ReliabilityProps = 'DeviceId', 'Temperature', 'TemperatureMax', 'Wear', 'PowerOnHours', 'ReadErrorsUncorrected', 'ReadErrorsTotal', 'WriteErrorsUncorrected'

function Test-WmiClass([string]$Namespace, [string]$Class) {
    # A missing namespace (root\SecurityCenter2 on a server, root\StandardCimv2 on Windows 7)
    # throws "Invalid namespace"; a missing class returns nothing. Both mean: no file.
    try {
        $definition = Get-WmiObject -Namespace $Namespace -Query ("SELECT * FROM meta_class WHERE __CLASS = '{0}'" -f $Class) -ErrorAction Stop
        return ($null -ne $definition)
    } catch {
        return $false
    }
}

function ConvertTo-FixtureRow($Object, [string[]]$Properties) {
    # Read the raw WMI values (what the agent's COM calls see) rather than PowerShell's adapted
    # view: its type data rewrites some of them, e.g. Win32_QuickFixEngineering.InstalledOn
    # becomes a DateTime and would be written as "\/Date(...)\/".
    $row = [ordered]@{}
    foreach ($name in $Properties) {
        $value = $null
        try {
            $value = $Object.psbase.Properties[$name].Value
        } catch {
            $value = $null   # the class has no such property on this Windows version
        }
        # uint8[] (the SMART page) must stay a list of numbers in the JSON.
        if ($value -is [byte[]]) { $value = [int[]]$value }
        $row[$name] = $value
    }
    # An ordered dictionary serialises like an object, in this key order; the pipeline does not
    # enumerate dictionaries, so each row stays one item.
    $row
}

function Save-WmiRows([string]$Namespace, [string]$Class, [object[]]$Rows) {
    $relative = 'wmi\{0}\{1}.json' -f ($Namespace.ToLowerInvariant() -replace '/', '\'), $Class
    if ($null -eq $Rows -or $Rows.Count -eq 0) {
        $json = '[]'   # the class exists and has no instances (Win32_Battery on a desktop)
    } else {
        # -InputObject, not the pipeline: piping would unwrap a one-element array into an object.
        $json = ConvertTo-Json -InputObject $Rows -Depth 4
    }
    Write-FixtureFile $relative $json
    Write-Host ('  {0}/{1}: {2}' -f $Namespace, $Class, @($Rows).Count)
}

function Get-WmiInstances([string]$Namespace, [string]$Class, [string]$Filter) {
    $arguments = @{ Namespace = ($Namespace -replace '/', '\'); Class = $Class; ErrorAction = 'Stop' }
    if ($Filter) { $arguments.Filter = $Filter }
    try {
        return @(Get-WmiObject @arguments)
    } catch {
        # root\wmi storage classes whose drivers have nothing to report answer "Not supported"
        # instead of an empty set (NVMe disks, RAID volumes, virtual disks). The class exists,
        # so record it as having no instances rather than leaving the file out.
        Write-Warning ('{0}/{1}: {2}; recorded as no instances' -f $Namespace, $Class, $_.Exception.Message)
        return @()
    }
}

function Save-WmiClass([hashtable]$Spec) {
    $filter = $null
    if ($Spec.ContainsKey('Filter')) { $filter = $Spec.Filter }
    if (-not (Test-WmiClass ($Spec.Ns -replace '/', '\') $Spec.Class)) {
        Write-Host ('  {0}/{1}: not on this machine, no file' -f $Spec.Ns, $Spec.Class)
        return
    }
    $rows = @(Get-WmiInstances $Spec.Ns $Spec.Class $filter | ForEach-Object { ConvertTo-FixtureRow $_ $Spec.Props })
    Save-WmiRows $Spec.Ns $Spec.Class $rows
}

function Save-LocalGroupMembers {
    # Enumerating Win32_GroupUser on a domain member walks every group of the domain, which is
    # slow and not what the collector reads. Asking group by group keeps it to this machine's
    # groups, with their domain members (CORP\Domain Admins) as they are.
    $rows = @()
    foreach ($group in @(Get-WmiInstances 'root/cimv2' 'Win32_Group' 'LocalAccount=True')) {
        $query = 'REFERENCES OF {{{0}}} WHERE ResultClass = Win32_GroupUser' -f $group.psbase.Path.RelativePath
        try {
            $rows += @(Get-WmiObject -Namespace 'root\cimv2' -Query $query -ErrorAction Stop |
                       ForEach-Object { ConvertTo-FixtureRow $_ $GroupUserProps })
        } catch {
            # An orphaned SID of a deleted domain account can make one group fail; keep the others.
            Write-Warning ('members of {0}: {1}' -f $group.psbase.Path.RelativePath, $_.Exception.Message)
        }
    }
    Save-WmiRows 'root/cimv2' 'Win32_GroupUser' $rows
}

function Save-ReliabilityCounters {
    $ns = 'root/microsoft/windows/storage'
    if (-not (Test-WmiClass ($ns -replace '/', '\') 'MSFT_StorageReliabilityCounter')) {
        Write-Host ('  {0}/MSFT_StorageReliabilityCounter: not on this machine, no file' -f $ns)
        return
    }
    # The storage provider hands reliability counters out through their physical disk (the way
    # Get-StorageReliabilityCounter does) rather than by enumerating the class.
    $rows = @()
    foreach ($disk in @(Get-WmiInstances $ns 'MSFT_PhysicalDisk' $null)) {
        try {
            $rows += @($disk.psbase.GetRelated('MSFT_StorageReliabilityCounter') |
                       ForEach-Object { ConvertTo-FixtureRow $_ $ReliabilityProps })
        } catch {
            Write-Warning ('reliability counter of disk {0}: {1}' -f $disk.psbase.Properties['DeviceId'].Value, $_.Exception.Message)
        }
    }
    Save-WmiRows $ns 'MSFT_StorageReliabilityCounter' $rows
}

# ------------------------------------------------------------------------------------ registry

function Select-FirstRegistryKey([string]$Text) {
    # reg.exe only exports recursively. Keep the header and the key asked for (the first one)
    # and drop its subkeys: under "Windows NT\CurrentVersion" or "Session Manager" they run to
    # megabytes (Perflib, Fonts, ...) that no collector reads. Only key headers start with '[':
    # value lines start with '"' or '@', continuation lines with two spaces.
    $kept = New-Object System.Text.StringBuilder
    $keys = 0
    foreach ($line in ($Text -split "`r`n")) {
        if ($line.StartsWith('[')) {
            $keys++
            if ($keys -gt 1) { break }
        }
        [void]$kept.Append($line).Append("`r`n")
    }
    return $kept.ToString().TrimEnd("`r", "`n") + "`r`n`r`n"
}

function Export-RegistryKey {
    param([string]$Key, [string]$Name, [switch]$ValuesOnly, [string]$RenameFrom, [string]$RenameTo)
    $temp = New-TempPath '.reg'
    try {
        $result = Invoke-Native 'reg.exe' @('export', $Key, $temp, '/y')
        if ($result.ExitCode -ne 0) {
            # Most of these keys exist only sometimes (RebootPending, WOW6432Node, a user's
            # Uninstall): an absent key is an absent file.
            Write-Host ('  {0}: not present, no file' -f $Key)
            return
        }
        # reg.exe writes UTF-16LE with a BOM, as regedit does; keep that encoding.
        $text = [IO.File]::ReadAllText($temp, [Text.Encoding]::Unicode)
    } finally {
        Remove-Item -LiteralPath $temp -Force -ErrorAction SilentlyContinue
    }
    if ($ValuesOnly) { $text = Select-FirstRegistryKey $text }
    if ($RenameFrom) {
        # A hive loaded by this script sits under a temporary name; give its keys the SID back
        # so the file reads as if the user had been logged on.
        $text = $text.Replace('[HKEY_USERS\' + $RenameFrom + '\', '[HKEY_USERS\' + $RenameTo + '\')
    }
    Write-FixtureFile ('registry\{0}.reg' -f $Name) $text ([Text.Encoding]::Unicode)
    Write-Host ('  {0} -> registry\{1}.reg' -f $Key, $Name)
}

$RegistryExports = @(
    @{ Name = 'windows-nt-currentversion'; Key = 'HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion'; ValuesOnly = $true }
    @{ Name = 'uninstall-hklm'; Key = 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall'; ValuesOnly = $false }
    @{ Name = 'uninstall-hklm-wow6432node'; Key = 'HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall'; ValuesOnly = $false }
    @{ Name = 'cbs-rebootpending'; Key = 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending'; ValuesOnly = $false }
    @{ Name = 'wu-rebootrequired'; Key = 'HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'; ValuesOnly = $false }
    @{ Name = 'session-manager'; Key = 'HKLM\SYSTEM\CurrentControlSet\Control\Session Manager'; ValuesOnly = $true }
    @{ Name = 'terminal-server'; Key = 'HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server'; ValuesOnly = $true }
    @{ Name = 'rdp-tcp'; Key = 'HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp'; ValuesOnly = $true }
    @{ Name = 'lanmanserver-parameters'; Key = 'HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters'; ValuesOnly = $true }
    @{ Name = 'w32time-parameters'; Key = 'HKLM\SYSTEM\CurrentControlSet\Services\W32Time\Parameters'; ValuesOnly = $true }
    @{ Name = 'computername'; Key = 'HKLM\SYSTEM\CurrentControlSet\Control\ComputerName\ComputerName'; ValuesOnly = $true }
    @{ Name = 'cryptography'; Key = 'HKLM\SOFTWARE\Microsoft\Cryptography'; ValuesOnly = $true }
    # Windows 7 has no root\StandardCimv2, so its firewall profiles are read from here. Each
    # profile on its own: FirewallPolicy\FirewallRules holds hundreds of rules.
    @{ Name = 'firewall-domainprofile'; Key = 'HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\DomainProfile'; ValuesOnly = $true }
    @{ Name = 'firewall-standardprofile'; Key = 'HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\StandardProfile'; ValuesOnly = $true }
    @{ Name = 'firewall-publicprofile'; Key = 'HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\PublicProfile'; ValuesOnly = $true }
)

function Get-UserProfiles {
    # ProfileList rather than C:\Users: profiles can live elsewhere (C:\Users\ivanov.CORP,
    # D:\Profiles\...), and it gives the SID that names the user's hive.
    $list = 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList'
    foreach ($entry in @(Get-ChildItem -LiteralPath $list)) {
        $path = $null
        try { $path = (Get-ItemProperty -LiteralPath $entry.PSPath).ProfileImagePath } catch { $path = $null }
        if ($path) { [pscustomobject]@{ Sid = $entry.PSChildName; Path = $path } }
    }
}

function Test-RegistryKey([string]$Key) {
    (Invoke-Native 'reg.exe' @('query', $Key)).ExitCode -eq 0
}

function Export-UserUninstallKeys {
    $subkey = 'Software\Microsoft\Windows\CurrentVersion\Uninstall'
    # S-1-5-21-...: real local and domain users, not SYSTEM, LocalService or NetworkService.
    foreach ($userProfile in @(Get-UserProfiles | Where-Object { $_.Sid -match '^S-1-5-21-[0-9-]+$' })) {
        $name = 'uninstall-hku-' + $userProfile.Sid
        if (Test-RegistryKey ('HKU\' + $userProfile.Sid)) {
            # The hive is loaded already: the user is logged on or a service runs as them.
            Export-RegistryKey -Key ('HKU\{0}\{1}' -f $userProfile.Sid, $subkey) -Name $name
            continue
        }
        if ($NoHiveLoad) { continue }
        $hive = Join-Path $userProfile.Path 'NTUSER.DAT'
        if (-not (Test-Path -LiteralPath $hive)) { continue }
        $mount = 'DozorCapture-' + $userProfile.Sid
        $loaded = Invoke-Native 'reg.exe' @('load', ('HKU\' + $mount), $hive)
        if ($loaded.ExitCode -ne 0) {
            Write-Warning ('could not load {0}: {1}' -f $hive, $loaded.Output.Trim())
            continue
        }
        try {
            Export-RegistryKey -Key ('HKU\{0}\{1}' -f $mount, $subkey) -Name $name -RenameFrom $mount -RenameTo $userProfile.Sid
        } finally {
            # Only reg.exe touched the hive, so nothing in this process holds it open; collect
            # anyway, since a stray handle would make the unload fail and keep the file locked.
            [GC]::Collect()
            [GC]::WaitForPendingFinalizers()
            $unloaded = Invoke-Native 'reg.exe' @('unload', ('HKU\' + $mount))
            if ($unloaded.ExitCode -ne 0) {
                Write-Warning ('could not unload HKU\{0}: {1} -- run "reg unload HKU\{0}" later' -f $mount, $unloaded.Output.Trim())
            }
        }
    }
}

# --------------------------------------------------------------------------------------- files

function Get-FixturePath([string]$WindowsPath) {
    # C:\Users\ivanov\... -> <OutDir>\fs\C\Users\ivanov\...
    if ($WindowsPath -notmatch '^([A-Za-z]):\\(.*)$') { return $null }
    Join-Path $OutDir ('fs\{0}\{1}' -f $Matches[1].ToUpperInvariant(), $Matches[2])
}

function Copy-ToFixture([string]$WindowsPath) {
    $target = Get-FixturePath $WindowsPath
    if (-not $target) {
        Write-Warning ('{0}: not on a drive letter, not copied' -f $WindowsPath)
        return
    }
    [void][IO.Directory]::CreateDirectory((Split-Path -Parent $target))
    # Byte for byte: ibases.v8i is UTF-8 with a BOM (or empty), nethasp.ini is often cp1251.
    [IO.File]::Copy($WindowsPath, $target, $false)
    Write-Host ('  {0}' -f $WindowsPath)
}

function New-Placeholder([string]$WindowsPath) {
    $target = Get-FixturePath $WindowsPath
    if (-not $target) { return }
    [void][IO.Directory]::CreateDirectory((Split-Path -Parent $target))
    [IO.File]::WriteAllBytes($target, (New-Object byte[] 0))
}

function Save-OneCFiles {
    foreach ($userProfile in @(Get-UserProfiles)) {
        # 1C keeps the infobase list per user in the roaming profile; a profile whose AppData is
        # redirected to a share is not covered.
        $ibases = Join-Path $userProfile.Path 'AppData\Roaming\1C\1CEStart\ibases.v8i'
        if (Test-Path -LiteralPath $ibases -PathType Leaf) { Copy-ToFixture $ibases }
    }
    $roots = @($env:ProgramW6432, $env:ProgramFiles, ${env:ProgramFiles(x86)}) | Where-Object { $_ } | Select-Object -Unique
    # Only the 1C folders: searching all of Program Files for nethasp.ini takes minutes and
    # trips over folders even an administrator may not list.
    foreach ($root in $roots) {
        foreach ($folder in '1cv8', '1cv82', '1cv8t') {
            $base = Join-Path $root $folder
            if (-not (Test-Path -LiteralPath $base -PathType Container)) { continue }
            foreach ($ini in @(Get-ChildItem -LiteralPath $base -Filter 'nethasp.ini' -Recurse -File -ErrorAction SilentlyContinue)) {
                Copy-ToFixture $ini.FullName
            }
            # The platform binaries weigh hundreds of MB; the collectors only look at which
            # version folders and programs exist, so empty files of the same names do.
            foreach ($version in @(Get-ChildItem -LiteralPath $base -Directory | Where-Object { $_.Name -match '^\d+\.\d+\.\d+\.\d+$' })) {
                $bin = Join-Path $version.FullName 'bin'
                foreach ($exe in '1cv8.exe', '1cv8c.exe', '1cv8s.exe', 'ragent.exe', 'rmngr.exe', 'rphost.exe', 'ras.exe') {
                    $path = Join-Path $bin $exe
                    if (Test-Path -LiteralPath $path -PathType Leaf) { New-Placeholder $path }
                }
                Write-Host ('  {0} (placeholders)' -f $bin)
            }
        }
    }
}

# ------------------------------------------------------------------------------------- win32

function Save-AccountPolicy {
    # secedit rather than "net accounts": net's labels and its "Never"/"Unlimited" are
    # translated on a Russian Windows, secedit's INF keys are not. /mergedpolicy gives what is in
    # force, domain policy included.
    $inf = New-TempPath '.inf'
    $settings = @{}
    try {
        $result = Invoke-Native 'secedit.exe' @('/export', '/mergedpolicy', '/areas', 'SECURITYPOLICY', '/cfg', $inf, '/quiet')
        if ($result.ExitCode -ne 0 -or -not (Test-Path -LiteralPath $inf)) {
            Write-Warning ('secedit /export failed ({0}); no account_policy.json' -f $result.ExitCode)
            return
        }
        foreach ($line in [IO.File]::ReadAllLines($inf, [Text.Encoding]::Unicode)) {
            if ($line -match '^\s*(\w+)\s*=\s*(-?\d+)\s*$') { $settings[$Matches[1]] = [long]$Matches[2] }
        }
    } finally {
        Remove-Item -LiteralPath $inf -Force -ErrorAction SilentlyContinue
    }
    $maxAge = $null
    if ($settings.ContainsKey('MaximumPasswordAge')) {
        $maxAge = $settings['MaximumPasswordAge']
        if ($maxAge -le 0) { $maxAge = -1 }   # 0 in policy and -1 in the export both mean "never expires"
    }
    $policy = [ordered]@{
        min_password_length   = $(if ($settings.ContainsKey('MinimumPasswordLength')) { $settings['MinimumPasswordLength'] } else { $null })
        max_password_age_days = $maxAge
        lockout_threshold     = $(if ($settings.ContainsKey('LockoutBadCount')) { $settings['LockoutBadCount'] } else { $null })
        password_complexity   = $(if ($settings.ContainsKey('PasswordComplexity')) { $settings['PasswordComplexity'] -eq 1 } else { $null })
    }
    Write-FixtureFile 'win32\account_policy.json' (ConvertTo-Json -InputObject $policy)
    Write-Host '  win32\account_policy.json'
}

function Format-UpdateDate($Value) {
    # IAutomaticUpdatesResults documents both dates as UTC and COM hands them over as a plain
    # DateTime, so they are written as they come. A machine that never succeeded has no date.
    if ($null -eq $Value -or $Value -isnot [datetime]) { return $null }
    if ($Value.Year -lt 2000) { return $null }
    $Value.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", [Globalization.CultureInfo]::InvariantCulture)
}

function Save-WindowsUpdate {
    $state = [ordered]@{ last_search_success = $null; last_install_success = $null; pending = @(); error = $null }
    try {
        $results = (New-Object -ComObject 'Microsoft.Update.AutoUpdate').Results
        $state.last_search_success = Format-UpdateDate $results.LastSearchSuccessDate
        $state.last_install_success = Format-UpdateDate $results.LastInstallationSuccessDate
    } catch {
        Write-Warning ('Microsoft.Update.AutoUpdate: {0}' -f $_.Exception.Message)
    }
    if ($SkipUpdateSearch) {
        $state.pending = $null   # not asked: unknown, which is not the same as "nothing pending"
    } else {
        try {
            $searcher = (New-Object -ComObject 'Microsoft.Update.Session').CreateUpdateSearcher()
            $found = $searcher.Search('IsInstalled=0 and IsHidden=0')
            $pending = @()
            foreach ($update in $found.Updates) {
                $kb = $null
                if ($update.KBArticleIDs.Count -gt 0) { $kb = 'KB' + $update.KBArticleIDs.Item(0) }
                $severity = $null
                if ($update.MsrcSeverity) { $severity = [string]$update.MsrcSeverity }
                # An MSRC severity is only given to security fixes; the "Security Updates"
                # category catches the ones published without one.
                $security = [bool]$severity
                foreach ($category in $update.Categories) {
                    if ($category.CategoryID -eq '0fa1201d-4330-4fa8-8ae9-b877473b6441') { $security = $true }
                }
                $pending += [ordered]@{ title = [string]$update.Title; kb = $kb; security = $security; severity = $severity }
            }
            $state.pending = $pending
        } catch {
            # The COM error comes wrapped in a MethodInvocationException; its HRESULT is what an
            # engineer looks up (0x80072EFD: no connection, 0x8024402C: proxy/WSUS name, ...).
            $failure = $_.Exception
            if ($failure.InnerException) { $failure = $failure.InnerException }
            $state.error = ('0x{0:X8} {1}' -f $failure.HResult, $failure.Message.Trim())
            Write-Warning ('Windows Update search: {0}' -f $state.error)
        }
    }
    Write-FixtureFile 'win32\windows_update.json' (ConvertTo-Json -InputObject $state -Depth 4)
    Write-Host '  win32\windows_update.json'
}

# ---------------------------------------------------------------------------------------- main

Write-Host ('Capturing {0} into {1}' -f $env:COMPUTERNAME, $OutDir)

Write-Host 'WMI'
foreach ($spec in $WmiClasses) { Save-WmiClass $spec }
Save-LocalGroupMembers
Save-ReliabilityCounters

Write-Host 'Registry'
foreach ($export in $RegistryExports) {
    Export-RegistryKey -Key $export.Key -Name $export.Name -ValuesOnly:$export.ValuesOnly
}
Export-UserUninstallKeys

Write-Host 'Files'
Save-OneCFiles

Write-Host 'Win32'
Save-AccountPolicy
Save-WindowsUpdate

$os = Get-WmiObject -Class Win32_OperatingSystem
$readme = @(
    ('# {0}' -f $env:COMPUTERNAME)
    ''
    ('Captured {0} by deploy/windows/capture-fixture.ps1 on "{1}" {2} (build {3}).' -f
        (Get-Date).ToString('yyyy-MM-dd HH:mm zzz', [Globalization.CultureInfo]::InvariantCulture),
        ([string]$os.Caption).Trim(), $os.Version, $os.BuildNumber)
    ''
    'Before committing:'
    ''
    '- Say what this machine is, what is notable or odd in it and what a collector should find.'
    '- Anonymise: serial numbers, UUIDs, MachineGuid, SIDs, user and host names, IP and MAC'
    '  addresses, PartialProductKey, infobase names and paths in ibases.v8i.'
    '- Drop what no test needs (long process and service lists, hundreds of optional features).'
) -join "`n"
Write-FixtureFile 'README.md' ($readme + "`n")

Write-Host ('Done: {0}' -f $OutDir)
