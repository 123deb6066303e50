// comm.cpp: the group of one process, the world communicator slot, and the string collectives every Comm shares.
#include "unfold/core/comm.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace unfold {

namespace {

class LocalComm final : public Comm {
  public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    std::string name() const override { return "local"; }
    void allreduce_sum(float*, int64_t) const override {}
    void allreduce_sum(double*, int64_t) const override {}
    void allreduce_sum(int64_t*, int64_t) const override {}
    void allreduce_min(float*, int64_t) const override {}
    void allreduce_max(int64_t*, int64_t) const override {}
    void broadcast(void*, int64_t, int) const override {}
    void allgather(const void* send, int64_t bytes, void* recv) const override {
        if (bytes > 0) std::memmove(recv, send, (size_t)bytes);
    }
    void barrier() const override {}
    [[noreturn]] void abort(int code) const override { std::_Exit(code); }
};

std::atomic<const Comm*> g_world{nullptr};

}  // namespace

std::vector<std::string> Comm::allgather_strings(const std::string& s) const {
    const int n = size();
    int64_t len = (int64_t)s.size();
    std::vector<int64_t> lens((size_t)n);
    allgather(&len, sizeof len, lens.data());
    int64_t most = 0;
    for (int64_t l : lens) most = l > most ? l : most;
    std::string mine = s;
    mine.resize((size_t)most);
    std::string all((size_t)(most * n), '\0');
    allgather(mine.data(), most, all.data());
    std::vector<std::string> out((size_t)n);
    for (int i = 0; i < n; i++) out[(size_t)i] = all.substr((size_t)(i * most), (size_t)lens[(size_t)i]);
    return out;
}

std::string Comm::broadcast_string(const std::string& s, int root) const {
    int64_t len = (int64_t)s.size();
    broadcast(&len, sizeof len, root);
    std::string out = s;
    out.resize((size_t)len);
    broadcast(out.data(), len, root);
    return out;
}

const Comm& local_comm() {
    static const LocalComm c;
    return c;
}

const Comm& world_comm() {
    const Comm* c = g_world.load();
    return c ? *c : local_comm();
}

void set_world_comm(const Comm* c) { g_world.store(c); }

}  // namespace unfold
