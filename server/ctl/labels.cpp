#include "ctl/labels.hpp"

#include <algorithm>

namespace dozor::ctl {

namespace {

// English label -> Russian. Table headers stay upper case, as in English. Abbreviations that read
// the same in Russian IT usage (ID, OS names, CPU%, MAC, SMART, FQDN, BIOS, UID) are not listed.
const std::vector<std::pair<std::string_view, std::string_view>> kRussian = {
    // Table headers.
    {"NAME", "НАЗВАНИЕ"},
    {"STATUS", "СТАТУС"},
    {"TYPE", "ТИП"},
    {"ENGINEER", "ИНЖЕНЕР"},
    {"HOSTS", "ХОСТЫ"},
    {"CREATED", "СОЗДАНО"},
    {"TIME", "ВРЕМЯ"},
    {"FROM", "ИЗ"},
    {"TO", "В"},
    {"BY", "КТО"},
    {"ORG", "ОРГАНИЗАЦИЯ"},
    {"LABEL", "МЕТКА"},
    {"HINT", "НАЧАЛО"},
    {"STATE", "СОСТОЯНИЕ"},
    {"USES", "ИСПОЛЬЗОВАНО"},
    {"EXPIRES", "ИСТЕКАЕТ"},
    {"ROLE", "РОЛЬ"},
    {"DISK", "ДИСК"},
    {"MODEL", "МОДЕЛЬ"},
    {"SIZE", "РАЗМЕР"},
    {"POWER-ON H", "НАРАБОТКА, Ч"},
    {"TEMP", "ТЕМП."},
    {"INTERFACE", "ИНТЕРФЕЙС"},
    {"SPEED", "СКОРОСТЬ"},
    {"ADDRESSES", "АДРЕСА"},
    {"PROTO", "ПРОТОКОЛ"},
    {"ADDRESS", "АДРЕС"},
    {"PORT", "ПОРТ"},
    {"PROCESS", "ПРОЦЕСС"},
    {"COLLECTOR", "СБОРЩИК"},
    {"MS", "МС"},
    {"ERROR", "ОШИБКА"},
    {"AGENT ID", "ID АГЕНТА"},
    {"HOSTNAME", "ИМЯ ХОСТА"},
    {"MATCHED", "СОВПАЛО"},
    {"More hosts matched than shown; narrow the search or raise --limit.",
     "Совпало больше хостов, чем показано; уточните запрос или увеличьте --limit."},
    {"No host matches.", "Ни один хост не найден."},
    {"OS", "ОС"},
    {"SOURCE", "ИСТОЧНИК"},
    {"LAST SEEN", "ПОСЛЕДНИЙ РАЗ"},
    {"VERSION", "ВЕРСИЯ"},
    {"GATEWAY", "ШЛЮЗ"},
    {"USER", "ПОЛЬЗОВАТЕЛЬ"},
    {"ADMIN", "АДМИН"},
    {"SHELL", "ОБОЛОЧКА"},
    {"HOME", "ДОМ. КАТАЛОГ"},
    {"APPLICATION", "ПРИЛОЖЕНИЕ"},
    {"KIND", "ВИД"},
    {"ARCH", "АРХ."},
    {"PATH", "ПУТЬ"},
    {"SERVICE", "СЛУЖБА"},
    {"ACTIVE", "АКТИВНОСТЬ"},
    {"SUB", "ПОДСОСТОЯНИЕ"},
    {"ENABLED", "АВТОЗАПУСК"},
    {"DESCRIPTION", "ОПИСАНИЕ"},
    {"PACKAGE", "ПАКЕТ"},
    {"INSTALLED", "УСТАНОВЛЕН"},
    {"CATEGORY", "КАТЕГОРИЯ"},
    {"ACTION", "ДЕЙСТВИЕ"},
    {"SUBJECT", "ПРЕДМЕТ"},
    {"OLD", "БЫЛО"},
    {"NEW", "СТАЛО"},
    {"LOAD1", "НАГРУЗКА"},
    {"MEM%", "ПАМЯТЬ%"},
    {"FULLEST FS", "САМАЯ ЗАПОЛНЕННАЯ ФС"},
    {"SEVERITY", "ВАЖНОСТЬ"},
    {"RULE", "ПРАВИЛО"},
    {"HOST", "ХОСТ"},
    {"TITLE", "ЗАГОЛОВОК"},
    {"EVENT", "СОБЫТИЕ"},
    {"COMMENT", "КОММЕНТАРИЙ"},
    {"SCOPE", "ОБЛАСТЬ"},
    {"CONTRACTS", "ДОГОВОРЫ"},
    {"EFFORT", "ТРУДОЁМКОСТЬ"},
    {"LOGIN", "ЛОГИН"},
    {"DISPLAY NAME", "ИМЯ"},
    {"E-MAIL", "ПОЧТА"},
    {"LANGUAGE", "ЯЗЫК"},
    {"SPECIALTY", "СПЕЦИАЛИЗАЦИЯ"},
    {"ASSIGNED", "НАЗНАЧЕН"},
    {"ACTOR", "КТО"},
    {"VIA", "КАНАЛ"},
    {"OBJECT", "ОБЪЕКТ"},
    {"DETAIL", "ПОДРОБНОСТИ"},
    // "Label:" keys.
    {"Name", "Название"},
    {"Contract status", "Статус договора"},
    {"Contract type", "Тип договора"},
    {"Engineer", "Инженер"},
    {"Hosts", "Хосты"},
    {"Created", "Создано"},
    {"Organisation", "Организация"},
    {"First audit", "Первый аудит"},
    {"Signing baseline", "База на подписании"},
    {"Host", "Хост"},
    {"Agent ID", "ID агента"},
    {"State", "Состояние"},
    {"Source", "Источник"},
    {"Addresses", "Адреса"},
    {"Agent version", "Версия агента"},
    {"Enrolled", "Подключён"},
    {"Last seen", "Последний раз"},
    {"Last inventory", "Последняя инвентаризация"},
    {"Dropped samples", "Потеряно замеров"},
    {"RAM", "ОЗУ"},
    {"Virtual machine", "Виртуальная машина"},
    {"Packages", "Пакеты"},
    {"Services", "Службы"},
    {"1C", "1С"},
    {"Kernel", "Ядро"},
    {"Architecture", "Архитектура"},
    {"Timezone", "Часовой пояс"},
    {"Boot time", "Время загрузки"},
    {"Clock synchronised", "Часы синхронизированы"},
    {"Reboot required", "Нужна перезагрузка"},
    {"Pending updates", "Ожидают обновления"},
    {"System", "Система"},
    {"Serial", "Серийный номер"},
    {"DNS servers", "DNS-серверы"},
    {"Title", "Заголовок"},
    {"Rule", "Правило"},
    {"Severity", "Важность"},
    {"Category", "Категория"},
    {"First seen", "Впервые"},
    {"Resolved", "Устранено"},
    {"Regressions", "Возвраты"},
    {"Acknowledged by", "В работе у"},
    {"Waived by", "Риск принял"},
    {"Waived until", "Риск принят до"},
    {"Effort", "Трудоёмкость"},
    {"Scope", "Область"},
    {"Contracts", "Договоры"},
    {"Enabled", "Включено"},
    {"Params", "Параметры"},
    {"Login", "Логин"},
    {"Display name", "Имя"},
    {"Role", "Роль"},
    {"E-mail", "Почта"},
    {"Telegram chat id", "Чат Telegram"},
    {"Language", "Язык"},
    {"Time zone", "Часовой пояс"},
    {"Password set", "Пароль задан"},
    {"Password changed", "Пароль изменён"},
    {"Organisations", "Организации"},
    {"Signed in with", "Вход"},
    {"Server", "Сервер"},
    {"Session expires", "Сессия истекает"},
    {"Version", "Версия"},
    {"Updated", "Изменено"},
    {"Author", "Автор"},
    {"Next page", "Следующая страница"},
    // Section titles.
    {"History", "История"},
    {"Overview", "Обзор"},
    {"Disks", "Диски"},
    {"Interfaces", "Интерфейсы"},
    {"Listening ports", "Открытые порты"},
    {"Collectors", "Сборщики"},
    {"Operating system", "Операционная система"},
    {"Hardware", "Оборудование"},
    {"Network interfaces", "Сетевые интерфейсы"},
    {"Users", "Пользователи"},
    {"Applications", "Приложения"},
    {"Evidence", "Данные"},
    {"Why it matters", "Почему это важно"},
    {"Remediation", "Как исправить"},
    {"Condition", "Условие"},
    {"Sustain (keeps an active finding open)", "Удержание (не даёт закрыть находку)"},
    {"Rule files that failed to load", "Файлы правил, которые не загрузились"},
    {"Assignments", "Назначения"},
    // Values shown by the people commands, and their messages.
    {"yes", "да"},
    {"no", "нет"},
    {"none", "нет"},
    {"all", "все"},
    {"enabled", "активна"},
    {"disabled", "отключена"},
    {"primary", "основной"},
    {"backup", "резервный"},
    {"login session", "сессия входа"},
    {"API token", "API-токен"},
    {"token role", "роль токена"},
    {"no earlier versions", "других версий нет"},
    {"No findings.", "Находок нет."},
    {"No accounts.", "Учётных записей нет."},
    {"No engineers assigned.", "Инженеры не назначены."},
    {"No notes yet.", "Заметок пока нет."},
    {"No audit entries.", "Записей в журнале нет."},
    // Alerts.
    {"STAGE", "ЭТАП"},
    {"DELIVERED", "ДОСТАВЛЕНО"},
    {"ACKED BY", "ПРИНЯЛ"},
    {"CHANNEL", "КАНАЛ"},
    {"RECIPIENT", "ПОЛУЧАТЕЛЬ"},
    {"ATTEMPTS", "ПОПЫТКИ"},
    {"PENDING", "В ОЧЕРЕДИ"},
    {"FAILED", "НЕ ДОСТАВЛЕНО"},
    {"SENT", "ОТПРАВЛЕНО"},
    {"OLDEST PENDING", "СТАРЕЙШЕЕ В ОЧЕРЕДИ"},
    {"LAST ERROR", "ПОСЛЕДНЯЯ ОШИБКА"},
    {"No alerts.", "Оповещений нет."},
    {"Alert", "Оповещение"},
    {"Stage", "Этап"},
    {"escalates", "эскалация"},
    {"Acknowledged", "Принято"},
    {"Nobody to tell.", "Оповещать некого."},
    {"Logged in to {} as {} ({}); the session is kept in {} until {}.",
     "Вход на {} выполнен: {} ({}); сессия сохранена в {} до {}."},
    {"Logged out of {}.", "Выход с {} выполнен."},
    {"Logged out of {}; the server was not told ({}): the session stays valid there until it "
     "expires.",
     "Выход с {} выполнен; сервер не уведомлён ({}): там сессия действует, пока не истечёт."},
    {"Not logged in.", "Вход не выполнен."},
    {"Password changed; your other sessions were ended.",
     "Пароль изменён; другие ваши сессии завершены."},
    {"Password of {} set; the account's sessions were ended.",
     "Пароль {} задан; сессии этой учётной записи завершены."},
    {"Account {} disabled; its sessions and tokens no longer work.",
     "Учётная запись {} отключена; её сессии и токены больше не действуют."},
    {"Account {} enabled.", "Учётная запись {} включена."},
    {"{} is now the {} engineer of {}.", "{} теперь {} инженер организации {}."},
    {"{} is no longer an engineer of {}.", "{} больше не инженер организации {}."},
    {"Saved the notes of {} (version {}).", "Заметки организации {} сохранены (версия {})."},
};

}  // namespace

std::optional<Lang> ParseLang(std::string_view code) {
  if (code == "en") {
    return Lang::kEn;
  }
  if (code == "ru") {
    return Lang::kRu;
  }
  return std::nullopt;
}

std::string_view LangCode(Lang lang) { return lang == Lang::kRu ? "ru" : "en"; }

std::string Label(std::string_view english, Lang lang) {
  if (lang == Lang::kRu) {
    const auto it = std::find_if(kRussian.begin(), kRussian.end(),
                                 [english](const auto& pair) { return pair.first == english; });
    if (it != kRussian.end()) {
      return std::string(it->second);
    }
  }
  return std::string(english);
}

std::string Sentence(std::string_view pattern, Lang lang,
                     std::initializer_list<std::string_view> values) {
  const std::string translated = Label(pattern, lang);
  std::string out;
  auto value = values.begin();
  size_t from = 0;
  for (size_t at = translated.find("{}"); at != std::string::npos;
       at = translated.find("{}", from)) {
    out += translated.substr(from, at - from);
    out += value != values.end() ? std::string(*value++) : std::string("{}");
    from = at + 2;
  }
  return out + translated.substr(from);
}

const std::vector<std::pair<std::string_view, std::string_view>>& RussianLabels() {
  return kRussian;
}

}  // namespace dozor::ctl
