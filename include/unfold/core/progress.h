// progress.h: progress of a long loop, reported through its Context.
//
// With ctx.progress set, the sink receives ProgressEvents (at most ~10 a second, plus the last one); else,
// when stderr is a terminal and the context is not quiet, a bar with rate and ETA is drawn there. Every
// update also polls ctx.should_stop (throws Cancelled), so a long loop that reports progress can be stopped.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "unfold/core/context.h"

namespace unfold {

class Progress {
  public:
    Progress(const Context& ctx, std::string label, int64_t total, std::string unit = "it");
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;
    void update(int64_t done, const std::string& extra = "");
    void finish(const std::string& extra = "");
    bool active() const { return mode_ != OFF; }

  private:
    enum Mode { OFF, BAR, SINK };
    const Context& ctx_;
    std::string label_, unit_;
    int64_t total_;
    Mode mode_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_, last_;
    void emit(int64_t done, const std::string& extra, bool final);
};

}  // namespace unfold
