// progress.cpp: progress reporting through the context (a sink, or a bar on a terminal).
#include "unfold/core/progress.h"

#include <unistd.h>

#include <cstdio>

namespace unfold {

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

Progress::Progress(const Context& ctx, std::string label, int64_t total, std::string unit)
    : ctx_(ctx), label_(std::move(label)), unit_(std::move(unit)), total_(total) {
    if (ctx.quiet)
        mode_ = OFF;
    else if (ctx.progress)
        mode_ = SINK;
    else
        mode_ = isatty(2) ? BAR : OFF;
    start_ = last_ = std::chrono::steady_clock::now();
}

Progress::~Progress() {
    if (mode_ == BAR && !finished_) std::fputc('\n', stderr);
}

void Progress::update(int64_t done, const std::string& extra) {
    ctx_.check_stop();
    if (mode_ == OFF) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total_ && std::chrono::duration<double>(now - last_).count() < 0.1) return;
    last_ = now;
    emit(done, extra, false);
}

void Progress::finish(const std::string& extra) {
    if (mode_ == OFF || finished_) return;
    emit(total_, extra, true);
    if (mode_ == BAR) std::fputc('\n', stderr);
    finished_ = true;
}

void Progress::emit(int64_t done, const std::string& extra, bool final) {
    double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (mode_ == SINK) {
        ProgressEvent e;
        e.label = label_;
        e.unit = unit_;
        e.done = done;
        e.total = total_;
        e.elapsed_s = el;
        e.extra = extra;
        e.finished = final;
        ctx_.progress(e);
        return;
    }
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
