// source_shuffle.h: row stores (finite activation sets split into chunks) and the shuffle buffer over them.
//
// A RowStore is a finite set of rows split into chunks (the shards of a folder; one chunk for a .npy or a
// safetensors tensor), read by range with NaN/Inf checks that name the chunk and row.
//
// ShuffleSource serves a RowStore through a shuffle buffer of `capacity` rows (<= 0: auto, at most 2^18 rows
// and 512 MiB):
//   epoch e streams the chunks in a permuted order (seeded by (seed, e)), rows in order within a chunk;
//   the buffer is filled with the first `capacity` stream rows; each draw picks a uniformly random slot
//   (seeded by (seed, e)), emits it and refills the slot with the next stream row; once the stream is
//   exhausted the buffer drains (every row exactly once per epoch), then epoch e+1 starts.
// Memory: capacity * d * 4 bytes (rows) + capacity * 8 bytes (slot ids) + a staging block of
// min(4096, rows) rows; never the whole set. With capacity >= rows this is a uniform shuffle.
// state() = {epoch, emitted}; restore() replays the slot choices on ids only (no data reads) and then
// reads the rows held by the buffer, so resume is exact and costs O(emitted) RNG draws.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "unfold/core/rng.h"
#include "unfold/data/source.h"

namespace unfold {

class RowStore {
  public:
    virtual ~RowStore() = default;
    virtual int64_t dim() const = 0;
    virtual int64_t num_chunks() const = 0;
    virtual int64_t chunk_rows(int64_t c) const = 0;
    virtual void read_rows(int64_t c, int64_t r0, int64_t n, float* out) const = 0;  // out[n, dim]
    virtual std::string describe() const = 0;
    virtual const Tensor* ground_truth() const { return nullptr; }
    virtual Json meta() const { return Json::object(); }
};

class ShuffleSource : public ActivationSource {
  public:
    // sequential = true: chunks in stored order and capacity 1, i.e. rows in stored order (no shuffle).
    ShuffleSource(std::unique_ptr<RowStore> store, uint64_t seed, int64_t capacity, bool sequential = false);
    int64_t dim() const override { return d_; }
    int64_t num_rows() const override { return total_; }
    void next_batch(float* out, int64_t n) override;
    const Tensor* ground_truth() const override { return store_->ground_truth(); }
    std::string describe() const override;
    Json meta() const override { return store_->meta(); }
    Json state() const override;
    void restore(const Json& state) override;
    // the global row id (chunk-major order of the store) of the last emitted row, for tests
    int64_t last_id() const { return last_id_; }

  private:
    std::unique_ptr<RowStore> store_;
    uint64_t seed_;
    bool sequential_ = false;
    int64_t d_ = 0, total_ = 0, cap_ = 0;
    std::vector<int64_t> chunk_start_;  // global id of each chunk's first row (store order)
    // epoch state
    int64_t epoch_ = 0, emitted_ = 0, streamed_ = 0;  // rows emitted / pulled from the stream this epoch
    std::vector<int64_t> order_;                      // chunk order of this epoch
    std::vector<int64_t> order_start_;                // stream position where order_[i] starts
    Rng pick_;
    std::vector<int64_t> ids_;                        // [size] global ids held by the buffer
    std::vector<float> rows_;                         // [cap, d]
    std::vector<float> stage_;                        // staging block of stream rows
    int64_t stage_begin_ = 0, stage_n_ = 0;           // stream positions [stage_begin_, +stage_n_)
    int64_t last_id_ = -1;

    void start_epoch(int64_t e);
    int64_t stream_id(int64_t sp) const;              // stream position -> global id
    const float* stream_row(int64_t sp);              // via staging
    void read_id(int64_t id, float* out) const;
    void fill_initial(bool with_data);
    int64_t draw(bool with_data, float* out);         // one emission; returns the id
};

}  // namespace unfold
