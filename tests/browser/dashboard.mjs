// The dashboard in headless Chromium (Debian's /usr/bin/chromium) through playwright-core, driven
// by test_dashboard.py, which starts the server and agent and passes everything in the environment.
// Any failed step throws: the process exits non-zero and the Python test fails with it.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set`);
  return value;
};
const base = env('DOZOR_URL');
const password = env('DOZOR_PASSWORD');
const orgId = env('DOZOR_ORG_ID');
const otherOrgId = env('DOZOR_OTHER_ORG_ID');
const agentId = env('DOZOR_AGENT_ID');
const artifacts = env('DOZOR_ARTIFACT_DIR');
const dashboardDir = env('DOZOR_DASHBOARD_DIR');
const require = createRequire(path.join(dashboardDir, 'package.json'));
const { chromium } = require('playwright-core');
const catalogs = {
  en: JSON.parse(readFileSync(path.join(dashboardDir, 'src/i18n/en.json'), 'utf8')),
  ru: JSON.parse(readFileSync(path.join(dashboardDir, 'src/i18n/ru.json'), 'utf8')),
};
const timings = {};
const log = (...args) => console.log('[browser]', ...args);

const browser = await chromium.launch({ executablePath: env('DOZOR_CHROMIUM'), args: ['--no-sandbox'] });
let failed = false;
try {
  await engineerAndAdminFlows();
  await clientUserFlow();
  await sessionExpiry();
  writeFileSync(path.join(artifacts, 'timings.json'), JSON.stringify(timings, null, 1));
  log('timings (ms):', JSON.stringify(timings));
} catch (error) {
  failed = true;
  console.error('[browser] FAILED:', error);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);

// A page that fails on any script error, CSP violation or console error (an untranslated key
// logs one), and on any 5xx answer of the API.
async function newPage(viewport = { width: 1366, height: 860 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, locale: 'ru-RU', timezoneId: 'Europe/Moscow' });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    // 401s are expected after the session ends; the browser logs every failed fetch.
    if (message.type() === 'error' && !/status of 40[134]/.test(message.text())) page.problems.push(`console: ${message.text()}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 500) page.problems.push(`HTTP ${response.status()} ${response.url()}`);
  });
  return { context, page };
}

function assertClean(page, where) {
  assert.deepEqual(page.problems, [], `${where}: problems in the page`);
}

async function login(page, user) {
  await page.goto(base + '/');
  await page.waitForURL(/\/login/);
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('.topbar');
}

async function currentLang(page) {
  return page.evaluate(() => document.documentElement.lang);
}

async function setLang(page, wanted) {
  if ((await currentLang(page)) !== wanted) {
    await page.click('.topbar [data-testid=lang-switch]');
    await page.waitForFunction((lang) => document.documentElement.lang === lang, wanted);
  }
}

// No key rendered as ⟦key⟧, and no text of the other language's catalogue on the page. Data
// (organisation and host names, rule texts from the server) is not in the catalogues.
async function checkLanguage(page, where) {
  const lang = await currentLang(page);
  const other = lang === 'ru' ? 'en' : 'ru';
  const text = await page.evaluate(() => {
    const parts = [document.body.innerText];
    for (const el of document.querySelectorAll('[aria-label],[title],[placeholder]')) {
      parts.push(el.getAttribute('aria-label') ?? '', el.getAttribute('title') ?? '', el.getAttribute('placeholder') ?? '');
    }
    return parts.join('\n');
  });
  assert.ok(!text.includes('⟦'), `${where} (${lang}): an untranslated key: ${text.slice(text.indexOf('⟦'), text.indexOf('⟦') + 60)}`);
  const lines = new Set(text.split('\n').map((line) => line.trim()).filter(Boolean));
  for (const [key, value] of Object.entries(catalogs[other])) {
    if (value === catalogs[lang][key] || value.length < 5 || /[{|]/.test(value)) continue;
    if (key === 'login.other_language') continue;
    assert.ok(!lines.has(value), `${where} (${lang}): "${value}" (${key}) is in the other language`);
  }
}

async function shot(page, name) {
  const lang = await currentLang(page);
  await page.screenshot({ path: path.join(artifacts, `${name}-${lang}.png`), fullPage: true });
}

async function visit(page, url, ready, name) {
  await page.goto(base + url);
  await page.waitForSelector(ready, { timeout: 20_000 });
  await page.waitForLoadState('networkidle').catch(() => {});
  await checkLanguage(page, url);
  if (name) await shot(page, name);
}

async function interactiveMs(page, url, selector) {
  const started = Date.now();
  await page.goto(base + url);
  await page.waitForSelector(selector);
  const navigationStart = await page.evaluate(() => performance.timeOrigin);
  const now = await page.evaluate(() => performance.timeOrigin + performance.now());
  return { wall: Date.now() - started, sinceNavigation: Math.round(now - navigationStart) };
}

async function engineerAndAdminFlows() {
  const { context, page } = await newPage();
  await login(page, 'boss');
  await page.waitForSelector('[data-testid=orgs-table] tbody tr');
  assert.equal(await currentLang(page), 'ru', 'an admin created without a language sees Russian');
  timings.overview = await interactiveMs(page, '/', '[data-testid=orgs-table] tbody tr');
  const rows = await page.locator('[data-testid=orgs-table] tbody tr').count();
  assert.equal(rows, 2, 'the admin sees both clients');

  // Sorting and search on the overview.
  await page.fill('.toolbar input[type=search]', 'ромаш');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=orgs-table] tbody tr').length === 1);
  await page.fill('.toolbar input[type=search]', '');

  timings.client = await interactiveMs(page, `/orgs/${orgId}`, '[data-testid=hosts-table] tbody tr');
  // Alerts: the signed client's finding went to the helpdesk; acknowledging stops its escalation.
  await page.goto(`${base}/alerts`);
  await page.waitForSelector('[data-testid=alerts-table] tbody tr');
  assert.ok((await page.textContent('[data-testid=alerts-table]')).includes(catalogs.ru['alerts.delivery_sent']), 'a delivered message shows');
  const [acked] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/alerts\/\d+\/ack$/.test(r.url())),
    page.locator('[data-action=ack-alert]').first().click(),
  ]);
  assert.equal(acked.status(), 200, 'the alert acknowledged');
  await page.uncheck('[data-testid=alerts-unacknowledged]');
  await page.getByText(catalogs.ru['alerts.acked_by'].replace('{who}', 'boss')).first().waitFor();

  // The client's hosts filtered by presence (the server filters and sorts the paged list).
  await page.goto(`${base}/orgs/${orgId}`);
  await page.waitForSelector('[data-testid=hosts-table] tbody tr');
  await page.selectOption('[data-testid=hosts-presence]', 'revoked');
  await page.getByText(catalogs.ru['hosts.none'], { exact: true }).waitFor();
  await page.selectOption('[data-testid=hosts-presence]', 'online');
  await page.waitForSelector('[data-testid=hosts-table] tbody tr');
  await page.click('[data-testid=hosts-table] th:has(button.sort) >> nth=1');
  await page.waitForSelector('[data-testid=hosts-table] th[aria-sort=ascending]:nth-child(5)');
  timings.host = await interactiveMs(page, `/hosts/${agentId}`, '[data-testid=host-summary]');

  // Findings: acknowledge, waive, history; then "fixed — please verify".
  await page.goto(`${base}/findings?org=${orgId}`);
  await page.waitForSelector('[data-testid=findings-table] tbody tr');
  // Findings per object: the fixture machine's half-duplex eth0 is named next to the title.
  const objects = await page.locator('[data-testid=findings-table] [data-testid=finding-object]').allTextContents();
  assert.ok(objects.includes('eth0'), `the interface is named: ${objects}`);
  await page.locator('[data-testid=findings-table] tbody tr a[href^="/findings/"]').first().click();
  await page.waitForSelector('[data-testid=finding-actions]');
  const findingUrl = page.url();
  await page.click('[data-action=ack]');
  await page.fill('dialog textarea', 'Берём в работу, звонил клиенту');
  await page.click('[data-testid=dialog-submit]');
  await page.waitForSelector('[data-testid=finding-history] li[data-kind=acknowledged]');
  assert.ok((await page.textContent('[data-testid=finding-history]')).includes('Берём в работу'), 'the comment is in the history');
  await page.click('[data-action=waive]');
  await page.fill('dialog input[name=until]', '2099-12-31');
  await page.fill('dialog textarea', 'Клиент принимает риск до замены сервера');
  await page.click('[data-testid=dialog-submit]');
  await page.waitForSelector('[data-testid=finding-history] li[data-kind=waived]');
  await page.waitForSelector('.state-waived');
  await page.click('[data-action=unwaive]');
  await page.waitForSelector('[data-testid=finding-history] li[data-kind=unwaived]');
  await page.click('[data-action=verify]');
  await page.click('[data-testid=dialog-submit]');
  await page.waitForSelector('[data-testid=finding-history] li[data-kind=verify_requested]');
  await shot(page, 'finding');
  assertClean(page, 'finding actions');

  // The PDF report downloads as a real PDF.
  await page.goto(`${base}/orgs/${orgId}/report`);
  await page.waitForSelector('[data-testid=report-frame]');
  const frame = page.frameLocator('[data-testid=report-frame]');
  await frame.locator('body').waitFor();
  assert.ok((await frame.locator('body').innerText()).includes('Ромашка'), 'the report shows in the page');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-download=pdf]')]);
  assert.match(download.suggestedFilename(), /\.pdf$/);
  const pdf = readFileSync(await download.path());
  assert.equal(pdf.subarray(0, 5).toString(), '%PDF-', 'a PDF file');
  assert.ok(pdf.length > 2000, 'a PDF with content');

  // The engineer records how many machines the client has; the report's coverage then names the
  // machines the audit never saw and limits its verdict.
  await page.goto(`${base}/orgs/${orgId}/contract`);
  await page.waitForSelector('[data-testid=declared-hosts-input]');
  await page.fill('[data-testid=declared-hosts-input]', 'пять');
  assert.ok(await page.isDisabled('[data-testid=declared-hosts-save]'), 'a count that is not a number cannot be saved');
  await page.fill('[data-testid=declared-hosts-input]', '5');
  const [declared] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'PATCH' && /\/api\/v1\/orgs\/[^/]+$/.test(r.url())),
    page.click('[data-testid=declared-hosts-save]'),
  ]);
  assert.equal(declared.status(), 200, 'declared count saved');
  assert.equal((await declared.json()).declared_hosts, 5);
  await page.waitForFunction(() => document.querySelector('[data-testid=declared-hosts-summary]')?.textContent.includes('из 5'));
  assertClean(page, 'declared machine count');
  await page.goto(`${base}/orgs/${orgId}/report`);
  const coverageFrame = page.frameLocator('[data-testid=report-frame]');
  await coverageFrame.locator('#coverage').waitFor();
  const coverageText = await coverageFrame.locator('#coverage').innerText();
  assert.ok(coverageText.includes('машин 5') && coverageText.includes('аудит не видел'), `the report's coverage names the unaudited machines: ${coverageText}`);
  assert.equal(await coverageFrame.locator('#charts [data-chart=score]').count(), 1, 'the score chart is in the report');

  // An admin makes the engineer an admin and back; the change shows in the list at once.
  await page.goto(`${base}/admin`);
  await page.waitForSelector('[data-testid=users-table]');
  const annaRole = page.locator('[data-testid=users-table] tr:has(td:text-is("anna")) [data-testid=user-role]');
  for (const role of ['admin', 'engineer']) {
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'PATCH' && r.url().includes('/api/v1/users/')),
      annaRole.selectOption(role),
    ]);
    assert.equal(answer.status(), 200, `role ${role} saved`);
    assert.equal((await answer.json()).role, role);
    await page.waitForFunction(
      (wanted) => {
        const row = [...document.querySelectorAll('[data-testid=users-table] tr')].find((tr) => tr.querySelector('td')?.textContent === 'anna');
        return row?.querySelector('[data-testid=user-role]')?.value === wanted;
      },
      role,
    );
  }
  assert.equal(await page.locator('[data-testid=users-table] tr:has(td:text-is("boss")) [data-testid=user-role]').count(), 0, 'nobody changes their own role');

  // A new enrollment token shows, once, the Linux install line and the Windows PowerShell one
  // (this server publishes its CA, its public URL and an MSI), each naming the new token.
  await page.goto(`${base}/orgs/${orgId}/enroll`);
  await page.fill(`input[placeholder="${catalogs.ru['enroll.label_hint']}"]`, 'Бухгалтерия');
  const [createdToken] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/v1\/orgs\/[^/]+\/tokens$/.test(r.url())),
    page.click('[data-testid=create-enroll-token]'),
  ]);
  assert.equal(createdToken.status(), 201, 'the enrollment token created');
  const { token: newToken } = await createdToken.json();
  const commands = page.locator('[data-testid=install-command] pre.command');
  await page.waitForSelector('[data-testid=install-command-windows] pre.command');
  const linuxLine = await commands.first().textContent();
  const windowsLine = await page.textContent('[data-testid=install-command-windows] pre.command');
  assert.match(linuxLine, /\/install\.sh \| sudo sh -s -- --token /, 'the Linux install line');
  assert.ok(linuxLine.includes(newToken), 'the Linux line carries the new token');
  assert.match(windowsLine, /Start-Process msiexec\.exe .*'\/qn'/, 'the Windows install line runs the MSI quietly');
  assert.ok(windowsLine.includes(`'TOKEN=${newToken}'`), 'the Windows line carries the new token');
  assert.ok(windowsLine.includes('/packages/dozor-agent-0.1.0-x64.msi'), 'the Windows line downloads the published MSI');
  assert.equal(await page.locator('[data-testid=install-command-windows] button').count(), 1, 'a copy button for the Windows line');
  await shot(page, 'client-enroll-created');
  assertClean(page, 'enrollment token');

  // A wrong API token (from outside the browser: no session cookie) is refused and recorded as a
  // security event (the server flushes them every 5 s); the administration lists it.
  const wrongToken = await fetch(`${base}/api/v1/orgs`, { headers: { Authorization: `Bearer dza_${'5'.repeat(64)}` } });
  assert.equal(wrongToken.status, 401, 'a wrong API token is refused');
  let refusedRows = 0;
  for (let attempt = 0; attempt < 30 && refusedRows === 0; ++attempt) {
    await page.goto(`${base}/admin/security`);
    await page.waitForSelector('.tab.active[data-tab=security]');
    await page.waitForSelector('[data-testid=security-events], .empty', { timeout: 20_000 });
    refusedRows = await page.locator('[data-testid=security-events] tr[data-kind=api_auth_failed]').count();
    if (refusedRows === 0) await page.waitForTimeout(1000);
  }
  assert.ok(refusedRows >= 1, 'the refused API token is listed among the security events');
  assert.ok((await page.textContent('[data-testid=security-events]')).includes('dza_55555555'), 'under the token hint only');
  assertClean(page, 'security events');

  // Every page in both languages: no untranslated key, no text of the other language.
  for (const lang of ['ru', 'en']) {
    await page.goto(base + '/');
    await page.waitForSelector('.topbar');
    await setLang(page, lang);
    await visit(page, '/', '[data-testid=orgs-table] tbody tr', 'overview');
    for (const tab of ['', '/findings', '/report', '/contract', '/people', '/enroll']) {
      await visit(page, `/orgs/${orgId}${tab}`, tab === '' ? '[data-testid=hosts-table]' : `.tab.active[data-tab=${tab.slice(1)}]`, tab === '' ? 'client' : `client-${tab.slice(1)}`);
    }
    for (const tab of ['', '/health', '/hardware', '/os', '/network', '/software', '/services', '/users', '/onec', '/changes', '/findings']) {
      await visit(page, `/hosts/${agentId}${tab}`, tab === '' ? '[data-testid=host-summary]' : `.tab.active[data-tab=${tab.slice(1)}]`, tab === '' || tab === '/health' ? `host${tab.replace('/', '-')}` : undefined);
    }
    await visit(page, '/findings', '[data-testid=findings-table]', 'findings');
    await visit(page, new URL(findingUrl).pathname, '[data-testid=finding-history] li', undefined);
    for (const tab of ['', '/tokens', '/audit', '/security', '/rules']) {
      await visit(page, `/admin${tab}`, tab === '' ? '[data-testid=users-table]' : `.tab.active[data-tab=${tab.slice(1)}]`, `admin${tab.replace('/', '-')}`);
    }
    await visit(page, '/account', '[data-page=account]', 'account');
    await visit(page, '/alerts', '[data-page=alerts]', 'alerts');
    // The phone layout of the overview and a finding.
    await page.setViewportSize({ width: 390, height: 844 });
    await visit(page, '/', '[data-testid=orgs-table] tbody tr', 'phone-overview');
    await visit(page, new URL(findingUrl).pathname, '[data-testid=finding-history] li', 'phone-finding');
    await page.setViewportSize({ width: 1366, height: 860 });
  }
  // The language is remembered for the user: a new browser opens in English.
  const second = await newPage();
  await login(second.page, 'boss');
  assert.equal(await currentLang(second.page), 'en', 'the language choice follows the user');
  await second.context.close();
  // Dark theme renders.
  await page.click('[data-testid=theme-switch]');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await shot(page, 'overview-dark');
  assertClean(page, 'admin walk');
  await context.close();
}

async function clientUserFlow() {
  const { context, page } = await newPage();
  await login(page, 'sysadmin');
  await page.waitForURL(new RegExp(`/orgs/${orgId}`));
  await page.waitForSelector('[data-testid=hosts-table] tbody tr');
  assert.equal(await page.locator('[data-nav=admin]').count(), 0, 'no administration for a client');
  assert.equal(await page.locator('[data-nav=alerts]').count(), 0, 'no alerts page for a client');
  assert.equal(await page.locator('.tab[data-tab=enroll]').count(), 0, 'no enrollment tokens for a client');
  await shot(page, 'client-user');
  // Another client's page is "not found", exactly like a missing one.
  await page.goto(`${base}/orgs/${otherOrgId}`);
  await page.waitForSelector('.error-box');
  // The board shows only its own findings; a finding offers only the client's actions.
  await page.goto(`${base}/findings`);
  await page.waitForSelector('[data-testid=findings-table] tbody tr');
  const orgsShown = await page.locator('[data-testid=findings-table] tbody tr').count();
  assert.ok(orgsShown >= 1);
  assert.ok(!(await page.textContent('[data-testid=findings-table]')).includes('Бета'), 'no other client\'s finding');
  await page.locator('[data-testid=findings-table] tbody tr a[href^="/findings/"]').first().click();
  await page.waitForSelector('[data-testid=finding-actions]');
  const actions = await page.locator('[data-testid=finding-actions] button').evaluateAll((buttons) => buttons.map((b) => b.dataset.action));
  assert.ok(!actions.includes('ack') && !actions.includes('waive') && !actions.includes('unwaive'), `client actions only: ${actions}`);
  assert.ok(actions.includes('comment'), `a client may comment: ${actions}`);
  await page.click('[data-action=comment]');
  await page.fill('dialog textarea', 'Сервер заменим в январе');
  await page.click('[data-testid=dialog-submit]');
  await page.waitForSelector('[data-testid=finding-history] li[data-kind=comment]');
  await checkLanguage(page, 'client finding');
  await shot(page, 'client-finding');
  assertClean(page, 'client user');
  await context.close();
}

async function sessionExpiry() {
  const { context, page } = await newPage();
  await login(page, 'anna');
  await page.waitForSelector('[data-testid=orgs-table] tbody tr');
  assert.equal(await currentLang(page), 'en', 'anna\'s account language is English');
  // The session ends on the server (as by expiry or "end session" elsewhere).
  const csrf = await page.evaluate(async () => (await (await fetch('/api/v1/me')).json()).csrf_token);
  const ended = await page.evaluate(async (token) => (await fetch('/api/v1/auth/logout', { method: 'POST', headers: { 'X-CSRF-Token': token } })).status, csrf);
  assert.equal(ended, 200);
  await page.click('[data-nav=findings]');
  await page.waitForSelector('[data-testid=session-expired]');
  assert.match(page.url(), /\/login/);
  await shot(page, 'session-expired');
  await context.close();
}
