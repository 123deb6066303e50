// html.cpp: the self-contained HTML report writer and a tag-balance checker (see html.h).
#include "unfold/viz/html.h"

#include <cctype>
#include <set>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"

namespace unfold {

static const char* kCss =
    "body{font-family:Helvetica,Arial,sans-serif;max-width:1180px;margin:24px auto;padding:0 18px;color:#222;"
    "line-height:1.45}"
    "h1{font-size:26px;border-bottom:2px solid #333;padding-bottom:6px}"
    "h2{font-size:20px;margin-top:38px;border-bottom:1px solid #ccc;padding-bottom:4px}"
    "h3{font-size:16px;margin-top:22px}"
    "figure{margin:14px 0;overflow-x:auto}figcaption{font-size:13px;color:#555;margin-top:4px}"
    "table{border-collapse:collapse;font-size:13px;margin:10px 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}"
    "td:first-child,th:first-child{text-align:left}"
    "nav ul{columns:2;font-size:14px}code{background:#f4f4f4;padding:1px 4px}"
    ".note{font-size:13px;color:#555}";

static std::string esc(const std::string& s) { return xml_escape(s); }

void HtmlReport::section(const std::string& id, const std::string& heading) {
    toc.push_back({id, heading});
    body += "<h2 id=\"" + esc(id) + "\">" + esc(heading) + "</h2>\n";
}

void HtmlReport::subheading(const std::string& text) { body += "<h3>" + esc(text) + "</h3>\n"; }

void HtmlReport::paragraph(const std::string& text) { body += "<p>" + esc(text) + "</p>\n"; }

void HtmlReport::figure(const std::string& id, const Svg& svg, const std::string& caption) {
    std::string s = svg.str(id);
    figures.push_back({id, s});
    body += "<figure>" + s + "<figcaption>" + esc(caption) + "</figcaption></figure>\n";
}

void HtmlReport::table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    body += "<table><tr>";
    for (auto& h : header) body += "<th>" + esc(h) + "</th>";
    body += "</tr>\n";
    for (auto& r : rows) {
        body += "<tr>";
        for (auto& c : r) body += "<td>" + esc(c) + "</td>";
        body += "</tr>\n";
    }
    body += "</table>\n";
}

void HtmlReport::kv_table(const std::vector<std::pair<std::string, std::string>>& kv) {
    body += "<table>";
    for (auto& p : kv) body += "<tr><th>" + esc(p.first) + "</th><td>" + esc(p.second) + "</td></tr>";
    body += "</table>\n";
}

std::string HtmlReport::str() const {
    std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + esc(title) +
                    "</title><style>" + kCss + "</style></head><body>\n<h1>" + esc(title) + "</h1>\n";
    if (!toc.empty()) {
        s += "<nav><ul>";
        for (auto& t : toc) s += "<li><a href=\"#" + esc(t.first) + "\">" + esc(t.second) + "</a></li>";
        s += "</ul></nav>\n";
    }
    s += body;
    s += "</body></html>\n";
    return s;
}

std::vector<std::string> HtmlReport::save(const std::string& path) const {
    std::string text = str();
    std::string err = markup_balance_error(text);
    UNFOLD_CHECK(err.empty(), "%s: internal error, unbalanced markup: %s", path.c_str(), err.c_str());
    std::string dir = ".";
    size_t slash = path.find_last_of('/');
    if (slash != std::string::npos) dir = path.substr(0, slash == 0 ? 1 : slash);
    std::string figdir = path_join(dir, "figures");
    make_dirs(figdir);
    std::vector<std::string> out;
    for (auto& f : figures) {
        std::string p = path_join(figdir, f.first + ".svg");
        write_file_atomic(p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + f.second + "\n");
        out.push_back(p);
    }
    write_file_atomic(path, text);
    return out;
}

std::string markup_balance_error(const std::string& t) {
    static const std::set<std::string> void_tags = {"meta", "br", "hr", "img", "input", "link", "col", "area",
                                                    "base", "wbr", "source"};
    std::vector<std::string> stack;
    size_t i = 0;
    while ((i = t.find('<', i)) != std::string::npos) {
        if (t.compare(i, 4, "<!--") == 0) {
            size_t e = t.find("-->", i);
            if (e == std::string::npos) return "unterminated comment";
            i = e + 3;
            continue;
        }
        size_t e = t.find('>', i);
        if (e == std::string::npos) return "unterminated tag at offset " + std::to_string(i);
        std::string tag = t.substr(i + 1, e - i - 1);
        i = e + 1;
        if (tag.empty()) return "empty tag";
        if (tag[0] == '!' || tag[0] == '?') continue;  // doctype, xml declaration
        bool closing = tag[0] == '/';
        bool self_closing = tag.back() == '/';
        size_t a = closing ? 1 : 0, b = a;
        while (b < tag.size() && (std::isalnum((unsigned char)tag[b]) || tag[b] == '-' || tag[b] == ':')) b++;
        std::string name = tag.substr(a, b - a);
        for (auto& c : name) c = (char)std::tolower((unsigned char)c);
        if (name.empty()) return "tag without a name: <" + tag + ">";
        if (closing) {
            if (stack.empty()) return "closing </" + name + "> with nothing open";
            if (stack.back() != name) return "closing </" + name + "> but <" + stack.back() + "> is open";
            stack.pop_back();
        } else if (!self_closing && !void_tags.count(name)) {
            stack.push_back(name);
        }
    }
    if (!stack.empty()) return "<" + stack.back() + "> never closed";
    return "";
}

}  // namespace unfold
