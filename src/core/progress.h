// progress.h: a progress bar with rate and ETA for long runs.
//
// Draws on stderr only when stderr is a terminal and not --quiet; otherwise silent (logs stay clean).
// Redraws at most ~10 times a second. `extra` is free text such as "loss 0.0123  L0 15.8".
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace unfold {

struct Progress {
    Progress(std::string label, int64_t total, bool quiet = false, std::string unit = "it");
    ~Progress();
    void update(int64_t done, const std::string& extra = "");
    void finish(const std::string& extra = "");
    bool active() const { return enabled_; }

  private:
    std::string label_, unit_;
    int64_t total_;
    bool enabled_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
    void draw(int64_t done, const std::string& extra, bool final);
};

// Global quiet switch set by the CLI's --quiet; Progress and log_info respect it.
void set_quiet(bool q);
bool is_quiet();
// Informational line on stderr (suppressed by --quiet).
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace unfold
