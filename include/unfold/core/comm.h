// comm.h: the processes a call runs across, as one explicit object (data-parallel training).
//
// A Comm is a group of `size()` cooperating processes, this one being `rank()`; the collective calls must be
// made by every rank in the same order. The library's trainers take a `const Comm*` in their options (null: this
// process alone). local_comm() is the group of one; world_comm() is every process of the job: MPI's
// MPI_COMM_WORLD when the program was started under mpirun and unfold was built with MPI (src/dist/, which
// installs it with set_world_comm), else local_comm().
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace unfold {

class Comm {
  public:
    virtual ~Comm() = default;
    virtual int rank() const = 0;
    virtual int size() const = 0;
    virtual std::string name() const = 0;                              // "local" | "mpi"
    virtual void allreduce_sum(float* data, int64_t n) const = 0;      // in place, every rank gets the sum
    virtual void allreduce_sum(double* data, int64_t n) const = 0;
    virtual void allreduce_sum(int64_t* data, int64_t n) const = 0;
    virtual void allreduce_min(float* data, int64_t n) const = 0;
    virtual void allreduce_max(int64_t* data, int64_t n) const = 0;
    virtual void broadcast(void* data, int64_t bytes, int root) const = 0;
    // recv [size() * bytes]: rank i's `bytes` at offset i * bytes, on every rank
    virtual void allgather(const void* send, int64_t bytes, void* recv) const = 0;
    virtual void barrier() const = 0;
    // Ends every process of the group at once (after this rank printed its error): no rank is left waiting.
    [[noreturn]] virtual void abort(int code) const = 0;

    bool is_root() const { return rank() == 0; }
    std::vector<std::string> allgather_strings(const std::string& s) const;  // every rank's string, by rank
    std::string broadcast_string(const std::string& s, int root) const;
};

const Comm& local_comm();
const Comm& world_comm();
void set_world_comm(const Comm* c);  // null: back to local_comm()

}  // namespace unfold
