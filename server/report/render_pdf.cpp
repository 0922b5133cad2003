// PDF through cairo's PDF surface and pango. Two passes: layout (every PangoLayout is created
// once and placed on a page) then drawing, so the header can say "page N of M".
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "report/renderers.hpp"
#include "report/report_charts.hpp"
#include "report/text_util.hpp"
#include "rules/rule.hpp"

namespace dozor::server::report {
namespace {

constexpr double kPageWidth = 595.276;  // A4 in points
constexpr double kPageHeight = 841.890;
constexpr double kMargin = 48.0;
constexpr double kHeaderHeight = 22.0;
constexpr double kContentTop = kMargin + kHeaderHeight;
constexpr double kContentBottom = kPageHeight - kMargin;
constexpr double kContentWidth = kPageWidth - 2 * kMargin;
constexpr double kCellPadding = 3.0;
constexpr char kFont[] = "DejaVu Sans";

struct Rgb {
  double r, g, b;
};

Rgb SeverityColor(std::string_view severity) {
  if (severity == "critical") {
    return {0.56, 0.11, 0.11};
  }
  if (severity == "high") {
    return {0.82, 0.27, 0.11};
  }
  if (severity == "medium") {
    return {0.79, 0.54, 0.0};
  }
  if (severity == "low") {
    return {0.29, 0.50, 0.71};
  }
  return {0.47, 0.47, 0.47};
}

std::string E(std::string_view text) { return XmlEscape(text); }

// Something placed on a page: a text layout, a filled or stroked rectangle, or a line.
struct Item {
  enum class Kind { kText, kFill, kStroke, kPath } kind = Kind::kText;
  PangoLayout* layout = nullptr;  // owned by Document
  double x = 0, y = 0, w = 0, h = 0;
  Rgb color{0, 0, 0};
  // kPath: a polyline through these points, `w` wide, dashed or not.
  std::vector<std::pair<double, double>> path;
  bool dashed = false;
};

struct LayoutDeleter {
  void operator()(PangoLayout* layout) const { g_object_unref(layout); }
};

class Document {
 public:
  explicit Document(cairo_t* cr) {
    context_ = pango_cairo_create_context(cr);
    pango_cairo_context_set_resolution(context_, 72.0);  // 1 font point = 1 user unit
    pages_.emplace_back();
  }
  ~Document() { g_object_unref(context_); }
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  PangoLayout* MakeLayout(const std::string& markup, double size, double width,
                          PangoAlignment align = PANGO_ALIGN_LEFT) {
    PangoLayout* layout = pango_layout_new(context_);
    layouts_.emplace_back(layout);
    pango_layout_set_font_description(layout, Font(size));
    pango_layout_set_width(layout, static_cast<int>(width * PANGO_SCALE));
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(layout, align);
    pango_layout_set_markup(layout, markup.c_str(), -1);
    return layout;
  }
  static double Height(PangoLayout* layout) {
    int width = 0, height = 0;
    pango_layout_get_size(layout, &width, &height);
    return static_cast<double>(height) / PANGO_SCALE;
  }
  static double Width(PangoLayout* layout) {
    int width = 0, height = 0;
    pango_layout_get_pixel_size(layout, &width, &height);
    return static_cast<double>(width);
  }

  // Starts a new page unless `height` still fits below the cursor.
  void Ensure(double height) {
    if (y_ + height > kContentBottom && y_ > kContentTop) {
      NewPage();
    }
  }
  void NewPage() {
    pages_.emplace_back();
    y_ = kContentTop;
  }
  void Space(double points) { y_ = std::min(y_ + points, kContentBottom); }

  void Paragraph(const std::string& markup, double size = 9.5, double indent = 0,
                 double space_after = 3) {
    PangoLayout* layout = MakeLayout(markup, size, kContentWidth - indent);
    double height = Height(layout);
    Ensure(height);
    Place(layout, kMargin + indent, y_);
    y_ += height + space_after;
  }
  void Heading(const std::string& text, int level) {
    double size = level == 1 ? 16 : level == 2 ? 13 : 11;
    PangoLayout* layout = MakeLayout("<b>" + E(text) + "</b>", size, kContentWidth);
    double height = Height(layout);
    Ensure(height + 70);  // keep a heading with the start of what follows
    Space(level == 1 ? 4 : 8);
    Place(layout, kMargin, y_);
    y_ += height + 2;
    if (level <= 2) {
      Rect(Item::Kind::kFill, kMargin, y_, kContentWidth, 1.2, {0.2, 0.27, 0.33});
      y_ += 5;
    }
  }

  // widths: fractions of the content width. Header row repeated after a page break.
  void Table(const std::vector<double>& widths, const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows, double size = 8.5) {
    auto row_layouts = [&](const std::vector<std::string>& cells, bool bold) {
      std::vector<PangoLayout*> out;
      for (size_t i = 0; i < widths.size(); ++i) {
        std::string text = i < cells.size() ? E(cells[i]) : "";
        out.push_back(MakeLayout(bold ? "<b>" + text + "</b>" : text, size,
                                 widths[i] * kContentWidth - 2 * kCellPadding));
      }
      return out;
    };
    auto row_height = [](const std::vector<PangoLayout*>& cells) {
      double height = 0;
      for (auto* cell : cells) {
        height = std::max(height, Height(cell));
      }
      return height + 2 * kCellPadding;
    };
    auto place_row = [&](const std::vector<PangoLayout*>& cells, double height, bool shaded) {
      double x = kMargin;
      if (shaded) {
        Rect(Item::Kind::kFill, x, y_, kContentWidth, height, {0.92, 0.94, 0.96});
      }
      for (size_t i = 0; i < cells.size(); ++i) {
        double w = widths[i] * kContentWidth;
        Rect(Item::Kind::kStroke, x, y_, w, height, {0.6, 0.6, 0.6});
        Place(cells[i], x + kCellPadding, y_ + kCellPadding);
        x += w;
      }
      y_ += height;
    };
    auto header_cells = row_layouts(header, true);
    double header_height = row_height(header_cells);
    bool first = true;
    for (const auto& row : rows) {
      auto cells = row_layouts(row, false);
      double height = row_height(cells);
      if (first || y_ + height > kContentBottom) {
        if (!first) {
          NewPage();
          header_cells = row_layouts(header, true);
        } else {
          Ensure(header_height + height);
        }
        place_row(header_cells, header_height, true);
        first = false;
      }
      place_row(cells, height, false);
    }
    if (rows.empty()) {
      Ensure(header_height);
      place_row(header_cells, header_height, true);
    }
    y_ += 6;
  }

  // A finding: a colour bar on the left and one wrapped block of text, kept on one page.
  void Card(const std::string& markup, Rgb color) {
    constexpr double kBar = 4, kGap = 6;
    PangoLayout* layout = MakeLayout(markup, 8.5, kContentWidth - kBar - kGap);
    double height = Height(layout);
    Ensure(height + 4);
    Rect(Item::Kind::kFill, kMargin, y_, kBar, height, color);
    Place(layout, kMargin + kBar + kGap, y_);
    y_ += height + 7;
  }

  // A table of single-line rows laid out with tab stops, several rows per PangoLayout: pango
  // costs about a microsecond per character plus a fixed cost per layout, so a 500-row host
  // table must not become 3,500 layouts. Cells are cut to what fits their column.
  void TabTable(const std::vector<double>& widths, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, double size = 8) {
    constexpr size_t kRowsPerLayout = 12;
    PangoTabArray* tabs = pango_tab_array_new(static_cast<int>(widths.size()), TRUE);
    double x = 0;
    std::vector<size_t> max_chars;
    for (size_t i = 0; i < widths.size(); ++i) {
      pango_tab_array_set_tab(tabs, static_cast<int>(i), PANGO_TAB_LEFT, static_cast<int>(x));
      double width = widths[i] * kContentWidth - 2 * kCellPadding;
      // DejaVu Sans averages about 0.55 em per character (Latin and Cyrillic); 0.6 leaves room.
      max_chars.push_back(static_cast<size_t>(std::max(3.0, width / (size * 0.6))));
      x += widths[i] * kContentWidth;
    }
    auto line = [&](const std::vector<std::string>& cells, bool bold = false) {
      std::string out;
      for (size_t i = 0; i < widths.size(); ++i) {
        if (i > 0) {
          out += '\t';
        }
        // Bold glyphs are about 10 % wider.
        size_t limit = bold ? std::max<size_t>(3, max_chars[i] * 9 / 10) : max_chars[i];
        out += E(Fit(i < cells.size() ? cells[i] : "", limit));
      }
      return out;
    };
    auto make = [&](const std::string& markup) {
      PangoLayout* layout = MakeLayout(markup, size, kContentWidth - kCellPadding);
      pango_layout_set_tabs(layout, tabs);
      pango_layout_set_width(layout, -1);  // rows never wrap: cells were cut to fit
      return layout;
    };
    auto place_header = [&] {
      PangoLayout* layout = make("<b>" + line(header, true) + "</b>");
      double height = Height(layout);
      Rect(Item::Kind::kFill, kMargin, y_, kContentWidth, height + 2 * kCellPadding,
           {0.92, 0.94, 0.96});
      Place(layout, kMargin + kCellPadding, y_ + kCellPadding);
      y_ += height + 2 * kCellPadding;
      Rect(Item::Kind::kFill, kMargin, y_, kContentWidth, 0.6, {0.5, 0.5, 0.5});
      y_ += 1;
    };
    auto chunk = [&](size_t start, size_t end) {
      std::string markup;
      for (size_t i = start; i < end; ++i) {
        if (i > start) {
          markup += '\n';
        }
        markup += line(rows[i]);
      }
      return make(markup);
    };
    PangoLayout* first = rows.empty() ? nullptr : chunk(0, std::min(rows.size(), kRowsPerLayout));
    // Keep the header with the first rows.
    Ensure(size * 2 + 2 * kCellPadding + (first != nullptr ? Height(first) : 0));
    place_header();
    for (size_t start = 0; start < rows.size(); start += kRowsPerLayout) {
      size_t end = std::min(rows.size(), start + kRowsPerLayout);
      PangoLayout* layout = start == 0 ? first : chunk(start, end);
      double height = Height(layout);
      if (y_ + height > kContentBottom) {
        NewPage();
        place_header();
      }
      double row_height = height / static_cast<double>(end - start);
      for (size_t i = start; i < end; ++i) {
        if (i % 2 == 1) {
          Rect(Item::Kind::kFill, kMargin, y_ + row_height * static_cast<double>(i - start),
               kContentWidth, row_height, {0.96, 0.96, 0.96});
        }
      }
      Place(layout, kMargin + kCellPadding, y_);
      y_ += height;
    }
    pango_tab_array_free(tabs);
    y_ += 8;
  }

  // Laid out now, placed later: lets a caller keep a heading with its first lines.
  PangoLayout* Prepare(const std::string& markup, double size, double indent) {
    return MakeLayout(markup, size, kContentWidth - indent);
  }
  void PlacePrepared(PangoLayout* layout, double indent, double space_after,
                     std::optional<Rgb> bar = std::nullopt) {
    double height = Height(layout);
    Ensure(height);
    if (bar) {
      Rect(Item::Kind::kFill, kMargin + indent - 9, y_, 4, height, *bar);
    }
    Place(layout, kMargin + indent, y_);
    y_ += height + space_after;
  }
  [[nodiscard]] double y() const { return y_; }

  static std::string Fit(const std::string& text, size_t max_chars) {
    size_t chars = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        if (chars == max_chars - 1) {
          return text.substr(0, i) + "…";
        }
        ++chars;
      }
    }
    return text;
  }

  void Rect(Item::Kind kind, double x, double y, double w, double h, Rgb color) {
    pages_.back().push_back(Item{kind, nullptr, x, y, w, h, color, {}, false});
  }
  void Place(PangoLayout* layout, double x, double y) {
    pages_.back().push_back(Item{Item::Kind::kText, layout, x, y, 0, 0, {0, 0, 0}, {}, false});
  }
  void Path(std::vector<std::pair<double, double>> points, double width, Rgb color,
            bool dashed = false) {
    Item item{Item::Kind::kPath, nullptr, 0, 0, width, 0, color, std::move(points), dashed};
    pages_.back().push_back(std::move(item));
  }
  // Where the next block starts; it fits below when Ensure(height) was called first.
  void Advance(double points) { y_ += points; }

  // Second pass: draws every page with its running header.
  void Draw(cairo_t* cr, const std::string& header_left, const std::string& page_of) {
    const size_t total = pages_.size();
    for (size_t page = 0; page < total; ++page) {
      std::string number = page_of;
      auto replace = [&](std::string_view token, const std::string& value) {
        auto at = number.find(token);
        if (at != std::string::npos) {
          number.replace(at, token.size(), value);
        }
      };
      replace("{n}", std::to_string(page + 1));
      replace("{m}", std::to_string(total));
      PangoLayout* left = MakeLayout(E(header_left), 8, kContentWidth * 0.7);
      PangoLayout* right = MakeLayout(E(number), 8, kContentWidth * 0.3, PANGO_ALIGN_RIGHT);
      cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
      cairo_move_to(cr, kMargin, kMargin);
      pango_cairo_show_layout(cr, left);
      cairo_move_to(cr, kMargin + kContentWidth * 0.7, kMargin);
      pango_cairo_show_layout(cr, right);
      cairo_rectangle(cr, kMargin, kMargin + 13, kContentWidth, 0.5);
      cairo_fill(cr);
      for (const auto& item : pages_[page]) {
        cairo_set_source_rgb(cr, item.color.r, item.color.g, item.color.b);
        switch (item.kind) {
          case Item::Kind::kText:
            cairo_move_to(cr, item.x, item.y);
            pango_cairo_show_layout(cr, item.layout);
            break;
          case Item::Kind::kFill:
            cairo_rectangle(cr, item.x, item.y, item.w, item.h);
            cairo_fill(cr);
            break;
          case Item::Kind::kStroke:
            cairo_set_line_width(cr, 0.5);
            cairo_rectangle(cr, item.x, item.y, item.w, item.h);
            cairo_stroke(cr);
            break;
          case Item::Kind::kPath: {
            if (item.path.empty()) {
              break;
            }
            static const double kDash[] = {4.0, 2.5};
            cairo_set_line_width(cr, item.w);
            cairo_set_dash(cr, kDash, item.dashed ? 2 : 0, 0);
            cairo_move_to(cr, item.path.front().first, item.path.front().second);
            for (size_t i = 1; i < item.path.size(); ++i) {
              cairo_line_to(cr, item.path[i].first, item.path[i].second);
            }
            if (item.path.size() == 1) {  // a single day: a short mark, not nothing
              cairo_rel_line_to(cr, 1.5, 0);
            }
            cairo_stroke(cr);
            cairo_set_dash(cr, kDash, 0, 0);
            break;
          }
        }
      }
      cairo_show_page(cr);
    }
  }

  [[nodiscard]] size_t page_count() const { return pages_.size(); }

 private:
  const PangoFontDescription* Font(double size) {
    auto& font = fonts_[static_cast<int>(size * 10)];
    if (!font) {
      font.reset(pango_font_description_new());
      pango_font_description_set_family(font.get(), kFont);
      pango_font_description_set_size(font.get(), static_cast<int>(size * PANGO_SCALE));
    }
    return font.get();
  }
  struct FontDeleter {
    void operator()(PangoFontDescription* font) const { pango_font_description_free(font); }
  };

  PangoContext* context_ = nullptr;
  std::vector<std::unique_ptr<PangoLayout, LayoutDeleter>> layouts_;
  std::map<int, std::unique_ptr<PangoFontDescription, FontDeleter>> fonts_;
  std::vector<std::vector<Item>> pages_;
  double y_ = kContentTop;
};

Rgb HexColor(std::string_view hex) {
  unsigned value = 0;
  if (hex.size() != 7 || hex[0] != '#' ||
      std::sscanf(std::string(hex.substr(1)).c_str(), "%6x", &value) != 1) {
    return {0.3, 0.3, 0.3};
  }
  return {static_cast<double>((value >> 16) & 0xFF) / 255.0,
          static_cast<double>((value >> 8) & 0xFF) / 255.0,
          static_cast<double>(value & 0xFF) / 255.0};
}

// A line chart drawn with cairo: the same axes and series as the HTML's SVG (report_charts.hpp).
void ChartBlock(Document& doc, const AuditReport& r, const Chart& chart) {
  constexpr double kHeight = 165, kLeft = 52, kRight = 6, kTop = 4, kBottom = 30;
  doc.Ensure(kHeight + 40);  // the title with its chart
  doc.Heading(chart.title, 3);
  if (!HasChartData(chart)) {
    doc.Paragraph("<i>" + E(r.text.no_chart_data) + "</i>", 8.5);
    return;
  }
  doc.Ensure(kHeight);
  const ChartAxes axes = ComputeAxes(chart);
  const double x0 = kMargin + kLeft, plot_w = kContentWidth - kLeft - kRight;
  const double y0 = doc.y() + kTop, plot_h = kHeight - kTop - kBottom;
  auto x_of = [&](int64_t at) {
    return x0 + plot_w * static_cast<double>(at - axes.x_min) /
                    static_cast<double>(axes.x_max - axes.x_min);
  };
  auto y_of = [&](double value) {
    return y0 + plot_h * (1 - std::clamp(value, 0.0, axes.y_max) / axes.y_max);
  };
  const Rgb grid{0.85, 0.85, 0.85}, axis{0.45, 0.45, 0.45};
  for (double tick : axes.y_ticks) {
    doc.Path({{x0, y_of(tick)}, {x0 + plot_w, y_of(tick)}}, 0.4, grid);
    PangoLayout* label =
        doc.MakeLayout(E(AxisValueLabel(chart, tick)), 7, kLeft - 5, PANGO_ALIGN_RIGHT);
    doc.Place(label, kMargin, y_of(tick) - Document::Height(label) / 2);
  }
  for (int64_t tick : axes.x_ticks) {
    doc.Path({{x_of(tick), y0 + plot_h}, {x_of(tick), y0 + plot_h + 3}}, 0.5, axis);
    PangoLayout* label = doc.MakeLayout(E(AxisDateLabel(r, tick)), 7, 40, PANGO_ALIGN_CENTER);
    doc.Place(label, x_of(tick) - 20, y0 + plot_h + 4);
  }
  doc.Rect(Item::Kind::kStroke, x0, y0, plot_w, plot_h, axis);
  double legend_x = x0;
  const double legend_y = y0 + plot_h + 16;
  for (const auto& series : chart.series) {
    std::vector<std::pair<double, double>> points;
    points.reserve(series.points.size());
    for (const auto& [at, value] : series.points) {
      points.emplace_back(x_of(at), y_of(value));
    }
    const Rgb color = HexColor(series.color);
    doc.Path(std::move(points), series.dashed ? 0.8 : 1.3, color, series.dashed);
    if (!series.dashed) {
      doc.Rect(Item::Kind::kFill, legend_x, legend_y + 2, 8, 6, color);
      PangoLayout* label = doc.MakeLayout(E(series.label), 7, kContentWidth / 2);
      doc.Place(label, legend_x + 11, legend_y);
      legend_x += 11 + Document::Width(label) + 10;
    }
  }
  doc.Advance(kHeight);
  if (!chart.note.empty()) {
    doc.Paragraph(E(chart.note), 8);
  }
}

void CoverageBlock(Document& doc, const AuditReport& r) {
  const auto& t = r.text;
  const auto& c = r.coverage;
  doc.Heading(t.coverage, 1);
  std::string seen = t.coverage_seen + ": " + std::to_string(c.seen);
  if (c.declared) {
    seen += " / " + std::to_string(*c.declared);
  }
  doc.Paragraph("<b>" + E(seen) + "</b>", 10);
  if (!c.seen_by_kind.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& entry : c.seen_by_kind) {
      rows.push_back({entry.label, std::to_string(entry.count)});
    }
    doc.TabTable({0.75, 0.25}, {t.kind, t.host_count}, rows, 8.5);
  }
  doc.Heading(t.coverage_gaps, 2);
  if (c.gaps.empty()) {
    doc.Paragraph(E(t.coverage_complete));
  }
  for (const auto& gap : c.gaps) {
    std::string markup = "<b>" + E(gap.text) + "</b>";
    for (const auto& line : gap.details) {
      markup += "\n• " + E(Document::Fit(line, 200));
    }
    doc.Card(markup, {0.79, 0.54, 0.0});
  }
}

std::string ShortDate(const AuditReport& r, int64_t ms) { return ReportDate(r, ms); }

// A waived finding: everything about it in one block (waived lists are short).
std::string WaivedMarkup(const AuditReport& r, const ReportFinding& f) {
  const auto& t = r.text;
  std::string m = "<b>" + E(f.title) + "</b>  <span foreground=\"#555555\">[" +
                  E(f.severity_label) + "] " + E(FindingHostLabel(r, f)) + " · " + E(f.rule_id) +
                  "</span>\n<b>" + E(t.waived_by) + ":</b> " + E(f.waived_by) + " · <b>" +
                  E(t.waive_reason) + ":</b> " + E(f.waive_reason) + " · <b>" + E(t.waived_until) +
                  ":</b> " + E(f.waived_until_ms ? ReportTime(r, *f.waived_until_ms) : t.no_expiry);
  if (!f.evidence.empty()) {
    m += "\n<b>" + E(t.evidence) + ":</b> " + E(f.evidence.front());
  }
  return m;
}

// The rule's text once (title, why, remediation), then one line per affected target: in a
// 500-host estate the same rule fires on hundreds of hosts and repeating its text would make
// the PDF unreadable (and slow to lay out).
std::string RuleMarkup(const AuditReport& r, const ReportFinding& f, size_t targets) {
  const auto& t = r.text;
  std::string m = "<b>" + E(f.title) + "</b>  <span foreground=\"#555555\">[" +
                  E(f.severity_label) + "] " + E(f.rule_id) + " · " + E(f.category_label) + " · " +
                  E(t.hosts) + ": " + std::to_string(targets) + "</span>";
  if (!f.why.empty()) {
    m += "\n<b>" + E(t.why) + ":</b> " + E(f.why);
  }
  if (!f.remediation.empty()) {
    m += "\n<b>" + E(t.remediation) + ":</b> " + E(f.remediation);
    if (!f.effort.empty()) {
      m += " <i>(" + E(t.effort + ": " + f.effort) + ")</i>";
    }
  }
  return m;
}

// The PDF shows at most this many evidence rows per finding (HTML/JSON/CSV carry them all).
constexpr size_t kPdfEvidenceRows = 3;
constexpr size_t kPdfEvidenceChars = 160;

std::string TargetMarkup(const AuditReport& r, const ReportFinding& f) {
  const auto& t = r.text;
  std::string m = "• <b>" + E(FindingHostLabel(r, f)) + "</b> — " + E(f.state_label) + ", " +
                  E(t.first_seen) + " " + ShortDate(r, f.first_seen_ms);
  if (!f.in_scope) {
    m += " <i>(" + E(t.out_of_scope) + ")</i>";
  }
  for (size_t i = 0; i < f.evidence.size() && i < kPdfEvidenceRows; ++i) {
    // Long unbreakable evidence makes pango's line breaking quadratic: cut it (the other
    // formats keep the full row).
    m += (i == 0 ? ": " : "; ") + E(Document::Fit(f.evidence[i], kPdfEvidenceChars));
  }
  if (f.evidence.size() > kPdfEvidenceRows) {
    m += " (+" + std::to_string(f.evidence.size() - kPdfEvidenceRows) + ")";
  }
  return m;
}

std::string HostList(const AuditReport& r, const std::vector<size_t>& indexes) {
  constexpr size_t kMaxNames = 25;
  std::string out = std::to_string(indexes.size()) + ": ";
  for (size_t i = 0; i < indexes.size() && i < kMaxNames; ++i) {
    out += (i == 0 ? "" : ", ") + FindingHostLabel(r, r.findings[indexes[i]]);
  }
  if (indexes.size() > kMaxNames) {
    out += ", … +" + std::to_string(indexes.size() - kMaxNames);
  }
  return out;
}

// One rule's share of the quote: "4 h" on one target, "3 × 4 h = 12 h" on several (just the sum
// should their estimates differ); a rule gone from the pack has no estimate.
std::string RuleEffort(const AuditReport& r, const std::vector<size_t>& indexes) {
  const auto& first = r.findings[indexes.front()];
  if (!first.effort_hours) {
    return r.text.no_estimate;
  }
  if (indexes.size() == 1) {
    return first.effort;
  }
  double sum = 0;
  bool same = true;
  size_t counted = 0;  // a rule's further objects on one host share its estimate
  for (size_t index : indexes) {
    if (!r.findings[index].estimate_counted) {
      continue;
    }
    const auto& hours = r.findings[index].effort_hours;
    sum += hours.value_or(0);
    same = same && hours == first.effort_hours;
    ++counted;
  }
  const std::string total = rules::FormatEffort(sum, r.lang);
  if (counted == 1) {
    return first.effort;
  }
  return same ? std::to_string(counted) + " × " + first.effort + " = " + total : total;
}

// Finding indexes grouped by rule id in first-appearance order.
std::vector<std::vector<size_t>> ByRule(const AuditReport& r, const std::vector<size_t>& indexes) {
  std::vector<std::vector<size_t>> groups;
  std::map<std::string, size_t> position;
  for (size_t index : indexes) {
    auto [it, inserted] = position.emplace(r.findings[index].rule_id, groups.size());
    if (inserted) {
      groups.emplace_back();
    }
    groups[it->second].push_back(index);
  }
  return groups;
}

void Progress(Document& doc, const AuditReport& r, const std::string& heading,
              const ProgressComparison& c) {
  const auto& t = r.text;
  doc.Heading(heading, 2);
  doc.Paragraph(E(t.baseline_recorded + ": " + ReportTime(r, c.baseline_at_ms)), 8.5);
  doc.Table({1.0 / 3, 1.0 / 3, 1.0 / 3}, {t.fixed_since, t.new_since, t.still_open},
            {{std::to_string(c.fixed_since.size()), std::to_string(c.new_since.size()),
              std::to_string(c.still_open.size())}});
  auto list = [&](const std::string& title, const std::vector<ProgressItem>& items) {
    if (items.empty()) {
      return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& item : items) {
      rows.push_back(
          {item.severity_label, item.title, HostObjectLabel(r, item.hostname, item.object)});
    }
    doc.Heading(title + " (" + std::to_string(items.size()) + ")", 3);
    doc.TabTable({0.14, 0.56, 0.30}, {t.severity, t.rule, t.host}, rows);
  };
  list(t.fixed_since, c.fixed_since);
  list(t.new_since, c.new_since);
  list(t.still_open, c.still_open);
}

void Layout(Document& doc, const AuditReport& r) {
  const auto& t = r.text;
  // Title page.
  doc.Space(60);
  doc.Paragraph("<b>" + E(t.title) + "</b>", 22, 0, 14);
  doc.Paragraph("<b>" + E(r.organization) + "</b>", 18, 0, 20);
  doc.Table({0.3, 0.7}, {t.organization, r.organization},
            {{t.contract_type, r.contract_type_label},
             {t.phase, r.phase_label + " — " + r.phase_meaning},
             {t.engineer, r.engineer.empty() ? "—" : r.engineer},
             {t.generated_at, ReportTime(r, r.generated_at_ms)},
             {t.time_zone, r.time_zone},
             {t.hosts, std::to_string(r.estate.host_count)}},
            10);
  doc.Space(16);
  doc.Paragraph(E(t.readiness_score) + ": <b><span size=\"xx-large\">" +
                    std::to_string(r.readiness_score) + "/100</span></b>",
                14, 0, 8);
  doc.Paragraph(E(t.verdict) + ": <b><span foreground=\"" +
                    (r.ready_to_sign ? "#1a7f37" : "#b3261e") + "\">" + E(r.verdict) +
                    "</span></b>",
                14, 0, r.must_fix.empty() && r.verdict_limitation.empty() ? 14 : 4);
  if (!r.verdict_limitation.empty()) {
    doc.Paragraph("<span foreground=\"#8a5a00\">" + E(r.verdict_limitation) + "</span>", 10, 0,
                  r.must_fix.empty() ? 14 : 4);
  }
  if (!r.must_fix.empty()) {
    doc.Paragraph(E(MustFixEffortLine(r)), 11, 0, 14);
  }
  std::vector<std::vector<std::string>> counts;
  for (const auto& entry : r.by_severity_counts) {
    counts.push_back({entry.label, std::to_string(entry.count)});
  }
  doc.Table({0.5, 0.5}, {t.severity, t.counts}, counts, 10);
  CoverageBlock(doc, r);

  doc.NewPage();
  doc.Heading(t.must_fix + " (" + std::to_string(r.must_fix.size()) + ")", 1);
  if (r.must_fix.empty()) {
    doc.Paragraph(E(t.must_fix_empty));
  } else {
    std::vector<std::vector<std::string>> rows;
    for (const auto& indexes : ByRule(r, r.must_fix)) {
      const auto& f = r.findings[indexes.front()];
      rows.push_back({f.severity_label, f.title, HostList(r, indexes), RuleEffort(r, indexes)});
    }
    rows.push_back({"", t.total, "", r.must_fix_effort});
    doc.Table({0.12, 0.31, 0.39, 0.18}, {t.severity, t.rule, t.hosts, t.effort}, rows);
    doc.Paragraph("<b>" + E(MustFixEffortLine(r)) + "</b>");
  }

  doc.Heading(t.charts, 1);
  for (const auto& chart : r.charts) {
    ChartBlock(doc, r, chart);
  }

  doc.Heading(t.findings_by_severity, 1);
  if (r.findings.empty()) {
    doc.Paragraph(E(t.no_findings));
  }
  constexpr double kIndent = 12;
  constexpr size_t kTargetsPerLayout = 8;
  for (const auto& group : r.by_severity) {
    doc.Heading(group.label + " (" + std::to_string(group.finding_indexes.size()) + ")", 2);
    for (const auto& indexes : ByRule(r, group.finding_indexes)) {
      const auto& first = r.findings[indexes.front()];
      PangoLayout* head = doc.Prepare(RuleMarkup(r, first, indexes.size()), 9, kIndent);
      std::vector<PangoLayout*> chunks;
      for (size_t start = 0; start < indexes.size(); start += kTargetsPerLayout) {
        std::string markup;
        for (size_t i = start; i < indexes.size() && i < start + kTargetsPerLayout; ++i) {
          markup += (i == start ? "" : "\n") + TargetMarkup(r, r.findings[indexes[i]]);
        }
        chunks.push_back(doc.Prepare(markup, 8, kIndent + 8));
      }
      doc.Ensure(Document::Height(head) + Document::Height(chunks.front()) + 6);
      doc.PlacePrepared(head, kIndent, 2, SeverityColor(first.severity));
      for (auto* chunk : chunks) {
        doc.PlacePrepared(chunk, kIndent + 8, 0);
      }
      doc.Space(8);
    }
  }

  doc.Heading(t.findings_by_category, 1);
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& group : r.by_category) {
      int64_t must = 0;
      for (size_t index : group.finding_indexes) {
        must += r.findings[index].must_fix ? 1 : 0;
      }
      rows.push_back(
          {group.label, std::to_string(group.finding_indexes.size()), std::to_string(must)});
    }
    doc.TabTable({0.5, 0.2, 0.3}, {t.category, t.total, t.must_fix_short}, rows, 8.5);
  }

  doc.Heading(t.findings_by_host, 1);
  {
    std::map<std::string, int> host_scores;
    for (const auto& host : r.estate.hosts) {
      host_scores[host.agent_id] = host.score;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& group : r.by_host) {
      int per_severity[6] = {0, 0, 0, 0, 0, 0};
      for (size_t index : group.finding_indexes) {
        ++per_severity[SeverityRank(r.findings[index].severity)];
      }
      auto score = host_scores.find(group.key);
      rows.push_back({group.label, score == host_scores.end() ? "" : std::to_string(score->second),
                      std::to_string(per_severity[0]), std::to_string(per_severity[1]),
                      std::to_string(per_severity[2]), std::to_string(per_severity[3]),
                      std::to_string(per_severity[4])});
    }
    doc.TabTable({0.34, 0.11, 0.11, 0.11, 0.11, 0.11, 0.11},
                 {t.host, t.score, SeverityLabel("critical", r.lang), SeverityLabel("high", r.lang),
                  SeverityLabel("medium", r.lang), SeverityLabel("low", r.lang),
                  SeverityLabel("info", r.lang)},
                 rows);
  }

  doc.Heading(t.waived_findings + " (" + std::to_string(r.waived.size()) + ")", 1);
  if (r.waived.empty()) {
    doc.Paragraph(E(t.none));
  }
  for (const auto& f : r.waived) {
    doc.Card(WaivedMarkup(r, f), {0.6, 0.6, 0.6});
  }

  const auto& e = r.estate;
  doc.Heading(t.estate_summary, 1);
  doc.Table({0.5, 0.5}, {t.hosts, std::to_string(e.host_count)},
            {{t.physical_machines, std::to_string(e.physical_count)},
             {t.virtual_machines, std::to_string(e.virtual_count)},
             {t.total_cores, std::to_string(e.total_cores)},
             {t.total_memory, FormatBytes(e.total_memory_bytes)}});
  auto counts_table = [&](const std::string& heading, const std::vector<CountEntry>& entries) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& entry : entries) {
      rows.push_back({entry.label, std::to_string(entry.count)});
    }
    doc.Space(6);
    doc.TabTable({0.75, 0.25}, {heading, t.host_count}, rows, 8.5);
  };
  counts_table(t.machines_by_os_version, e.by_os_version);
  counts_table(t.hosts_by_os, e.by_os);
  counts_table(t.hosts_by_role, e.by_role);
  counts_table(t.hardware_age, e.by_hardware_age);
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& app : e.applications) {
      rows.push_back({app.name, app.version, app.kind, std::to_string(app.hosts)});
    }
    doc.Space(6);
    doc.TabTable({0.45, 0.25, 0.15, 0.15}, {t.applications, t.version, t.kind, t.host_count}, rows,
                 8.5);
  }
  counts_table(t.notable_software, e.notable_software);
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& host : e.hosts) {
      rows.push_back({host.hostname, host.os,
                      host.duties_label.empty() ? host.role_label
                                                : host.role_label + " · " + host.duties_label,
                      std::to_string(host.cpu_cores) + " × " + host.cpu_model,
                      FormatBytes(host.memory_bytes), ReportTime(r, host.last_seen_ms)});
    }
    doc.Heading(t.host_table, 3);
    doc.TabTable({0.17, 0.20, 0.17, 0.19, 0.09, 0.18},
                 {t.host, t.os, t.role, "CPU", "RAM", t.last_seen_host}, rows, 7);
  }

  doc.Heading(t.progress, 1);
  if (r.progress.since_first_audit) {
    Progress(doc, r, t.progress_since_first_audit, *r.progress.since_first_audit);
  }
  if (r.progress.since_signing) {
    Progress(doc, r, t.progress_since_signing, *r.progress.since_signing);
  }
  if (!r.progress.note.empty()) {
    doc.Paragraph("<i>" + E(r.progress.note) + "</i>");
  }
}

cairo_status_t AppendToString(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

}  // namespace

Result<std::string> RenderPdf(const AuditReport& report) {
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  std::string out;
  cairo_surface_t* surface =
      cairo_pdf_surface_create_for_stream(AppendToString, &out, kPageWidth, kPageHeight);
  if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surface);
    return MakeError(ErrorCode::kInternal, "cannot create the PDF surface");
  }
  cairo_pdf_surface_set_metadata(
      surface, CAIRO_PDF_METADATA_TITLE,
      SanitizeUtf8(report.text.title + " — " + report.organization).c_str());
  cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Dozor");
  cairo_t* cr = cairo_create(surface);
  {
    Document doc(cr);
    Layout(doc, report);
    doc.Draw(cr, report.organization + " — " + report.text.title, report.text.page_of);
  }
  cairo_status_t status = cairo_status(cr);
  cairo_destroy(cr);
  cairo_surface_finish(surface);
  if (status == CAIRO_STATUS_SUCCESS) {
    status = cairo_surface_status(surface);
  }
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    return MakeError(ErrorCode::kInternal,
                     std::string("PDF rendering failed: ") + cairo_status_to_string(status));
  }
  return out;
}

}  // namespace dozor::server::report
