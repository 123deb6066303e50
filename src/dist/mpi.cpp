// mpi.cpp: the MPI communicator behind world_comm() (core/comm.h), and the session that starts and ends MPI.
// Compiled with MPI when UNFOLD_HAVE_MPI (CMake found MPI and UNFOLD_MPI is on); otherwise only the detection
// of an mpirun launch remains, so such a build refuses to run as several copies of one job.
#include "unfold/dist/mpi.h"

#include <cstdlib>
#include <string>

#include "unfold/core/comm.h"
#include "unfold/core/error.h"

#ifdef UNFOLD_HAVE_MPI
#include <mpi.h>
#endif

namespace unfold {

namespace {

int env_int(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : 0;
}

#ifdef UNFOLD_HAVE_MPI
void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, msg, &len);
        fail("MPI: %s failed: %.*s", what, len, msg);
    }
}

class MpiComm final : public Comm {
  public:
    MpiComm() {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    std::string name() const override { return "mpi"; }
    // counts above INT_MAX go in pieces
    template <class T>
    void reduce(T* data, int64_t n, MPI_Datatype t, MPI_Op op) const {
        const int64_t piece = 1 << 30;
        for (int64_t i = 0; i < n; i += piece)
            check(MPI_Allreduce(MPI_IN_PLACE, data + i, (int)std::min(piece, n - i), t, op, MPI_COMM_WORLD),
                  "MPI_Allreduce");
    }
    void allreduce_sum(float* d, int64_t n) const override { reduce(d, n, MPI_FLOAT, MPI_SUM); }
    void allreduce_sum(double* d, int64_t n) const override { reduce(d, n, MPI_DOUBLE, MPI_SUM); }
    void allreduce_sum(int64_t* d, int64_t n) const override { reduce(d, n, MPI_INT64_T, MPI_SUM); }
    void allreduce_min(float* d, int64_t n) const override { reduce(d, n, MPI_FLOAT, MPI_MIN); }
    void allreduce_max(int64_t* d, int64_t n) const override { reduce(d, n, MPI_INT64_T, MPI_MAX); }
    void broadcast(void* data, int64_t bytes, int root) const override {
        const int64_t piece = 1 << 30;
        for (int64_t i = 0; i < bytes; i += piece)
            check(MPI_Bcast((char*)data + i, (int)std::min(piece, bytes - i), MPI_BYTE, root, MPI_COMM_WORLD),
                  "MPI_Bcast");
    }
    void allgather(const void* send, int64_t bytes, void* recv) const override {
        UNFOLD_CHECK(bytes < (1LL << 31), "MPI: allgather of %lld bytes per rank", (long long)bytes);
        check(MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD), "MPI_Allgather");
    }
    void barrier() const override { check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
    [[noreturn]] void abort(int code) const override {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::_Exit(code);
    }

  private:
    int rank_ = 0, size_ = 1;
};
#endif

}  // namespace

bool mpi_built() {
#ifdef UNFOLD_HAVE_MPI
    return true;
#else
    return false;
#endif
}

bool mpi_launched() {
    // OpenMPI's mpirun, and PMI-based launchers (MPICH's hydra, Slurm's srun)
    return env_int("OMPI_COMM_WORLD_SIZE") > 1 || env_int("PMI_SIZE") > 1 || env_int("PMIX_SIZE") > 1;
}

MpiSession::MpiSession(int* argc, char*** argv) {
    if (!mpi_launched()) return;
#ifdef UNFOLD_HAVE_MPI
    int provided = 0;
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    static MpiComm comm;
    comm = MpiComm();
    set_world_comm(&comm);
    active_ = true;
#else
    (void)argc;
    (void)argv;
    fail("started by mpirun as one of %d ranks, but this unfold was built without MPI (configure with "
         "-DUNFOLD_MPI=ON; Debian: apt-get install libopenmpi-dev openmpi-bin)",
         env_int("OMPI_COMM_WORLD_SIZE") + env_int("PMI_SIZE") + env_int("PMIX_SIZE"));
#endif
}

MpiSession::~MpiSession() {
#ifdef UNFOLD_HAVE_MPI
    if (active_) {
        set_world_comm(nullptr);
        MPI_Finalize();
    }
#endif
}

}  // namespace unfold
