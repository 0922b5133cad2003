// The language of dozorctl's human output: table headers, "Label:" keys, section titles and the
// messages of the people commands. Labels are written in English in the renderers and translated
// here through one table, so a renderer never branches on the language. --json output does not
// go through this: it stays the API's language-neutral JSON.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dozor::ctl {

enum class Lang { kEn, kRu };

// "en" / "ru" -> Lang; nullopt for anything else.
std::optional<Lang> ParseLang(std::string_view code);
std::string_view LangCode(Lang lang);

// `english` in `lang`. English is returned as is; for Russian the table's translation, or the
// English text itself when the table has none (a gap shows up as English, never as nothing).
std::string Label(std::string_view english, Lang lang);

// A message in `lang`: `pattern` (English, with "{}" where the values go) translated, then each
// "{}" replaced by the next of `values` in order. Values are not translated.
std::string Sentence(std::string_view pattern, Lang lang,
                     std::initializer_list<std::string_view> values);

// Every (English, Russian) pair of the table, for tests.
const std::vector<std::pair<std::string_view, std::string_view>>& RussianLabels();

}  // namespace dozor::ctl
