// mpi.h: running under mpirun (Debian's OpenMPI). The same program runs alone or as one rank of an MPI job:
//
//   int main(int argc, char** argv) {
//       unfold::MpiSession mpi(&argc, &argv);   // MPI_Init only when launched by mpirun; installs world_comm()
//       ... unfold::world_comm().rank() ...
//   }                                            // MPI_Finalize
//
// Built without MPI (-DUNFOLD_MPI=OFF, or no MPI found), a program launched by mpirun with more than one rank
// stops with a one-line error instead of running the job R times over.
#pragma once
#include <string>

namespace unfold {

bool mpi_built();     // this build has MPI
bool mpi_launched();  // the environment says mpirun started this process as one of several ranks

class MpiSession {
  public:
    MpiSession(int* argc, char*** argv);
    ~MpiSession();
    MpiSession(const MpiSession&) = delete;
    MpiSession& operator=(const MpiSession&) = delete;
    bool active() const { return active_; }

  private:
    bool active_ = false;
};

}  // namespace unfold
