// progress.cpp: terminal progress bar and quiet-aware logging.
#include "core/progress.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>

namespace unfold {

static bool g_quiet = false;
void set_quiet(bool q) { g_quiet = q; }
bool is_quiet() { return g_quiet; }

void log_info(const char* fmt, ...) {
    if (g_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
}

static std::string fmt_duration(double s) {
    if (s < 0 || s > 1e7) return "?";
    int t = (int)(s + 0.5);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%02d:%02d", t / 60, t % 60);
    return buf;
}

Progress::Progress(std::string label, int64_t total, bool quiet, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
    enabled_ = !quiet && !g_quiet && isatty(2);
    start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
    if (enabled_ && !finished_) std::fputc('\n', stderr);
}

void Progress::update(int64_t done, const std::string& extra) {
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total_ && std::chrono::duration<double>(now - last_draw_).count() < 0.1) return;
    last_draw_ = now;
    draw(done, extra, false);
}

void Progress::finish(const std::string& extra) {
    if (!enabled_ || finished_) return;
    draw(total_, extra, true);
    std::fputc('\n', stderr);
    finished_ = true;
}

void Progress::draw(int64_t done, const std::string& extra, bool final) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    double rate = el > 0 ? (double)done / el : 0.0;
    double frac = total_ > 0 ? (double)done / (double)total_ : 0.0;
    const int width = 24;
    int fill = (int)(frac * width);
    char bar[width + 1];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double eta = rate > 0 ? (double)(total_ - done) / rate : -1;
    std::fprintf(stderr, "\r\033[K%s [%s] %lld/%lld %.1f %s/s %s<%s %s", label_.c_str(), bar, (long long)done,
                 (long long)total_, rate, unit_.c_str(), fmt_duration(el).c_str(),
                 final ? "00:00" : fmt_duration(eta).c_str(), extra.c_str());
    std::fflush(stderr);
}

}  // namespace unfold
