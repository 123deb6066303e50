// crash_testing.h: what the kill -9 tests share (tests/cli/test_crash_resume.cpp, tests/data/test_synth_crash.cpp).
#pragma once
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace crash_testing {

// Starts args[0] with args (stdout and stderr to /dev/null); kills it with SIGKILL after `after` unless it ends
// first. Returns true if it was killed; *status is waitpid's.
inline bool run_and_kill(const std::vector<std::string>& args, std::chrono::microseconds after, int* status) {
    pid_t p = fork();
    if (p == 0) {
        std::vector<char*> argv;
        for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
        argv.push_back(nullptr);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execv(argv[0], argv.data());
        _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + after;
    while (std::chrono::steady_clock::now() < deadline) {
        if (waitpid(p, status, WNOHANG) == p) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    kill(p, SIGKILL);
    waitpid(p, status, 0);
    return WIFSIGNALED(*status);
}

}  // namespace crash_testing
