// source.h: activation sources for dictionary learning, all streamed with bounded memory.
//
// A source yields rows x[d] (float32). Kinds (open_source picks by the path / spec):
//   - a .npy file [tokens, d] (f32 or f16), memory-mapped;
//   - a safetensors file + tensor name ("file.safetensors:acts");
//   - a folder of shards with an index (index.json) as written by `unfold data synth` and `unfold lm cache`;
//   - a trained toy model's hidden activations generated on the fly (--from-toy DIR --instance K);
// Rows are served through a shuffle buffer (never the whole set in memory). Sources with known
// ground truth (planted dictionaries, toy models) expose it as unit-norm rows [n_true, d].
// Every draw is deterministic in (seed, position), and state()/restore() give exact resume.
// NaN/Inf rows are an error naming the shard and row.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "unfold/core/tensor.h"
#include "unfold/io/json.h"

namespace unfold {

class ActivationSource {
  public:
    virtual ~ActivationSource() = default;
    virtual int64_t dim() const = 0;
    virtual int64_t num_rows() const = 0;                   // rows per epoch; -1 = unbounded (generated)
    virtual void next_batch(float* out, int64_t n) = 0;     // out[n, dim]; wraps into the next epoch
    virtual const Tensor* ground_truth() const { return nullptr; }  // [n_true, dim], unit rows, or null
    virtual std::string describe() const = 0;               // one line for logs and cfg metadata
    virtual Json meta() const { return Json::object(); }    // what produced the rows (a shard folder's index meta)
    virtual Json state() const = 0;                          // position, for checkpoints
    virtual void restore(const Json& state) = 0;             // exact resume
};

struct SourceOptions {
    uint64_t seed = 0;
    int64_t shuffle_buffer_rows = 1 << 18;  // memory: rows * d * 4 bytes; <= 0: auto (<= 2^18 rows, <= 512 MiB)
    std::string tensor_name;                // for safetensors inputs
    std::string from_toy;                   // toy run folder (hidden activations)
    int toy_instance = 0;
    bool sequential = false;                // files/folders: rows in stored order, no shuffle (encoding)
    // Data-parallel training: this process reads part `part` of `parts` (one per rank). Files and shard folders
    // are split into disjoint parts (a folder's shards dealt round-robin when there are at least `parts` of
    // them, else every chunk's rows in `parts` contiguous ranges), each served by its own shuffle buffer (part
    // 0 with `seed`, the others with seeds derived from it); generated sources (planted, toy) hand part p the
    // p-th slice of every batch of the one-process stream, so the parts' batches side by side are exactly the
    // batches one process would draw.
    int part = 0;
    int parts = 1;
};

// Opens `path` (file or folder) or, with opts.from_toy set, a toy model's hidden activations.
std::unique_ptr<ActivationSource> open_source(const std::string& path, const SourceOptions& opts);

}  // namespace unfold
