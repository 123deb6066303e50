// context.h: what a host program decides for unfold's long-running calls, in one explicit object.
//
//   Context ctx;                 // defaults: all cores, messages and a progress bar on stderr
//   ctx.threads = 4;
//   ctx.log = [](LogLevel l, const std::string& m) { my_logger(m); };      // one sink for every message
//   ctx.progress = [](const ProgressEvent& e) { bar.set(e.done, e.total); };
//   ctx.should_stop = [] { return interrupted; };                          // checked between steps
//   ToyTrainOptions o; o.ctx = ctx; toy_train_ex(model, o);
//
// Every call that trains, caches, builds or writes a report takes a Context (in its options struct as
// `ctx`, or as a parameter); the `unfold` command fills one from --threads and --quiet. The library keeps
// no settings of its own besides the kernel choice of cpu.h (read once from UNFOLD_KERNELS).
//
// Threads: a call that takes a Context runs its OpenMP loops on ctx.threads threads and sets OpenBLAS's
// pool to that size for its duration (ThreadScope), then restores both. Calls without a Context (a forward
// pass, an encode) use the calling thread's OpenMP setting: set_num_threads() or OMP_NUM_THREADS. OpenBLAS's
// pool is process-wide, so two host threads running unfold calls at once share it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "unfold/core/error.h"

namespace unfold {

enum class LogLevel { INFO, WARN };
const char* log_level_name(LogLevel l);  // "info" | "warn"

struct ProgressEvent {
    std::string label;     // what runs, e.g. "toy train"
    std::string unit;      // what is counted, e.g. "step"
    int64_t done = 0;
    int64_t total = 0;
    double elapsed_s = 0;
    std::string extra;     // free text such as "loss 0.0123  L0 15.8"
    bool finished = false;
};

using LogSink = std::function<void(LogLevel, const std::string&)>;
using ProgressSink = std::function<void(const ProgressEvent&)>;

// Thrown by a long call when ctx.should_stop() answered true. Files written so far are whole (every file
// is written to a temporary name and renamed); a checkpointed run continues with --resume.
struct Cancelled : Error {
    using Error::Error;
};

struct Context {
    int threads = 0;          // OpenMP threads and OpenBLAS pool of calls that take this context;
                              // 0 = leave the calling thread's setting as it is
    bool quiet = false;       // drop INFO messages and progress (WARN messages still reach the sink)
    LogSink log;              // empty: each message one line on stderr
    ProgressSink progress;    // empty: a bar with rate and ETA on stderr when stderr is a terminal
    std::function<bool()> should_stop;  // empty: never; polled between steps (throws Cancelled)

    static Context silent() {  // no messages, no progress
        Context c;
        c.quiet = true;
        return c;
    }
    void info(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
    void warn(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
    void message(LogLevel level, const std::string& text) const;
    void check_stop() const;  // throws Cancelled("cancelled") when should_stop() returns true
};

// Sets the calling thread's OpenMP thread count and OpenBLAS's pool to ctx.threads for its lifetime and
// restores both afterwards; threads <= 0 changes nothing.
class ThreadScope {
  public:
    explicit ThreadScope(const Context& ctx);
    explicit ThreadScope(int threads);
    ~ThreadScope();
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

  private:
    int prev_omp_, prev_blas_;
};

int hardware_threads();  // cores the process may use (at least 1)
// Makes OpenBLAS take its settings from the environment again (OPENBLAS_THREAD_TIMEOUT, OPENBLAS_NUM_THREADS)
// and restarts its thread pool, keeping its thread count. For hosts that load unfold into a process where
// OpenBLAS started earlier, before the host could set those variables (Python: numpy imported before unfold,
// the same OpenBLAS library): without it OpenBLAS's workers keep polling ~0.1 s after each product, taking the
// cores from unfold's OpenMP loops. Call it while no other thread runs BLAS. Returns false (and does nothing)
// where the BLAS library is not OpenBLAS.
bool blas_reload_environment();
// The calling thread's OpenMP thread count and OpenBLAS's pool, for calls without a Context (n <= 0: all
// cores); get_num_threads() is the calling thread's OpenMP count.
void set_num_threads(int n);
int get_num_threads();

}  // namespace unfold
