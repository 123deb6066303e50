// html.h: a self-contained HTML report (inline CSS, inline SVG figures, no scripts, no external resources).
//
// The page opens offline in any browser. Each figure is an inline <svg> with a stable id; save() also writes
// every figure as <dir>/figures/<id>.svg so it can be dropped into a paper or slide.
//
//   HtmlReport r("Toy models of superposition");
//   r.section("pentagon", "5 features in 2 dimensions");
//   r.paragraph("At 90% sparsity the five features form a pentagon.");
//   r.figure("fig-5to2", svg, "W columns per instance");
//   r.save("runs/demo/report.html");   // + runs/demo/figures/fig-5to2.svg
#pragma once
#include <string>
#include <vector>

#include "unfold/viz/svg.h"

namespace unfold {

struct HtmlReport {
    std::string title;
    std::string body;  // accumulated HTML
    std::vector<std::pair<std::string, std::string>> figures;   // (id, svg text)
    std::vector<std::pair<std::string, std::string>> toc;       // (section id, heading)

    explicit HtmlReport(std::string t) : title(std::move(t)) {}

    void section(const std::string& id, const std::string& heading);   // <h2 id=...>, listed in the contents
    void subheading(const std::string& text);                           // <h3>
    void paragraph(const std::string& text);                            // escaped text in <p>
    void html(const std::string& raw_html) { body += raw_html; }        // trusted markup from unfold itself
    void figure(const std::string& id, const Svg& svg, const std::string& caption);
    // header row + body rows of plain text cells (escaped)
    void table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
    // key/value pairs as a two-column table
    void kv_table(const std::vector<std::pair<std::string, std::string>>& kv);

    std::string str() const;
    // writes `path` atomically and every figure to <dirname(path)>/figures/<id>.svg; returns the figure paths
    std::vector<std::string> save(const std::string& path) const;
};

// Checks used by tests and by save(): every tag opened is closed in order (void elements and self-closing
// tags aside), ignoring comments/doctype. Returns "" when balanced, else a description of the first problem.
std::string markup_balance_error(const std::string& text);

}  // namespace unfold
