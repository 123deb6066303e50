// source_shuffle.cpp: the shuffle buffer over a chunked row store (algorithm and memory in the header).
#include "unfold/data/source_shuffle.h"

#include <algorithm>
#include <cstring>

#include "unfold/core/error.h"

namespace unfold {

namespace {
constexpr uint64_t kStreamChunkOrder = 0xC0;
constexpr uint64_t kStreamPick = 0xC1;
constexpr int64_t kStageRows = 4096;
}  // namespace

ShuffleSource::ShuffleSource(std::unique_ptr<RowStore> store, uint64_t seed, int64_t capacity, bool sequential)
    : store_(std::move(store)), seed_(seed), sequential_(sequential) {
    if (sequential) capacity = 1;
    d_ = store_->dim();
    int64_t acc = 0;
    for (int64_t c = 0; c < store_->num_chunks(); c++) {
        chunk_start_.push_back(acc);
        acc += store_->chunk_rows(c);
    }
    total_ = acc;
    UNFOLD_CHECK(total_ > 0, "%s: no rows", store_->describe().c_str());
    if (capacity <= 0) capacity = std::min<int64_t>(1 << 18, std::max<int64_t>(4096, (512ll << 20) / (4 * d_)));
    cap_ = std::min(capacity, total_);
    rows_.resize((size_t)(cap_ * d_));
    stage_.resize((size_t)(std::min(kStageRows, total_) * d_));
    start_epoch(0);
    fill_initial(true);
}

void ShuffleSource::start_epoch(int64_t e) {
    epoch_ = e;
    emitted_ = 0;
    streamed_ = 0;
    stage_begin_ = 0;
    stage_n_ = 0;
    const int64_t nc = store_->num_chunks();
    std::vector<uint32_t> perm((size_t)nc);
    Rng r = Rng(seed_, kStreamChunkOrder).split((uint64_t)e);
    rng_permutation(perm.data(), perm.size(), r);
    if (sequential_)
        for (int64_t i = 0; i < nc; i++) perm[(size_t)i] = (uint32_t)i;
    order_.assign(perm.begin(), perm.end());
    order_start_.resize((size_t)nc);
    int64_t acc = 0;
    for (int64_t i = 0; i < nc; i++) {
        order_start_[(size_t)i] = acc;
        acc += store_->chunk_rows(order_[(size_t)i]);
    }
    pick_ = Rng(seed_, kStreamPick).split((uint64_t)e);
    ids_.clear();
}

int64_t ShuffleSource::stream_id(int64_t sp) const {
    // the last chunk whose stream start is <= sp
    auto it = std::upper_bound(order_start_.begin(), order_start_.end(), sp);
    size_t i = (size_t)(it - order_start_.begin()) - 1;
    int64_t c = order_[i];
    return chunk_start_[(size_t)c] + (sp - order_start_[i]);
}

void ShuffleSource::read_id(int64_t id, float* out) const {
    auto it = std::upper_bound(chunk_start_.begin(), chunk_start_.end(), id);
    int64_t c = (int64_t)(it - chunk_start_.begin()) - 1;
    store_->read_rows(c, id - chunk_start_[(size_t)c], 1, out);
}

const float* ShuffleSource::stream_row(int64_t sp) {
    if (sp < stage_begin_ || sp >= stage_begin_ + stage_n_) {
        // refill the staging block with contiguous stream rows, never crossing a chunk boundary
        auto it = std::upper_bound(order_start_.begin(), order_start_.end(), sp);
        size_t i = (size_t)(it - order_start_.begin()) - 1;
        int64_t c = order_[i];
        int64_t r0 = sp - order_start_[i];
        int64_t n = std::min<int64_t>({(int64_t)(stage_.size() / (size_t)d_), store_->chunk_rows(c) - r0});
        store_->read_rows(c, r0, n, stage_.data());
        stage_begin_ = sp;
        stage_n_ = n;
    }
    return stage_.data() + (sp - stage_begin_) * d_;
}

void ShuffleSource::fill_initial(bool with_data) {
    const int64_t n = std::min(cap_, total_);
    ids_.resize((size_t)n);
    for (int64_t k = 0; k < n; k++) {
        ids_[(size_t)k] = stream_id(k);
        if (with_data) std::memcpy(rows_.data() + k * d_, stream_row(k), sizeof(float) * (size_t)d_);
    }
    streamed_ = n;
}

int64_t ShuffleSource::draw(bool with_data, float* out) {
    if (ids_.empty()) {  // epoch exhausted: the next one starts
        start_epoch(epoch_ + 1);
        fill_initial(with_data);
    }
    const int64_t size = (int64_t)ids_.size();
    const int64_t j = (int64_t)pick_.below((uint64_t)size);
    const int64_t id = ids_[(size_t)j];
    if (with_data) std::memcpy(out, rows_.data() + j * d_, sizeof(float) * (size_t)d_);
    if (streamed_ < total_) {
        ids_[(size_t)j] = stream_id(streamed_);
        if (with_data) std::memcpy(rows_.data() + j * d_, stream_row(streamed_), sizeof(float) * (size_t)d_);
        streamed_++;
    } else {
        const int64_t last = size - 1;
        if (j != last) {
            ids_[(size_t)j] = ids_[(size_t)last];
            if (with_data)
                std::memcpy(rows_.data() + j * d_, rows_.data() + last * d_, sizeof(float) * (size_t)d_);
        }
        ids_.pop_back();
    }
    emitted_++;
    return id;
}

void ShuffleSource::next_batch(float* out, int64_t n) {
    for (int64_t i = 0; i < n; i++) last_id_ = draw(true, out + i * d_);
}

std::string ShuffleSource::describe() const {
    return strformat("%s, shuffle buffer %lld rows (seed %llu)", store_->describe().c_str(), (long long)cap_,
                     (unsigned long long)seed_);
}

Json ShuffleSource::state() const {
    Json j = Json::object();
    j["kind"] = "shuffle";
    j["rows"] = total_;
    j["capacity"] = cap_;
    j["seed"] = seed_;
    j["sequential"] = sequential_;
    j["epoch"] = epoch_;
    j["emitted"] = emitted_;
    return j;
}

void ShuffleSource::restore(const Json& st) {
    const std::string ctx = "source state";
    UNFOLD_CHECK(st.is_obj() && st.get_str("kind", "") == "shuffle", "%s: not a shuffle-buffer state", ctx.c_str());
    UNFOLD_CHECK(st.at("rows", ctx).as_int(ctx + ": rows") == total_ &&
                     st.at("capacity", ctx).as_int(ctx + ": capacity") == cap_ &&
                     st.at("seed", ctx).as_u64(ctx + ": seed") == seed_ &&
                     st.get_bool("sequential", false) == sequential_,
                 "%s: saved for another data set, buffer size or seed (rows %lld, capacity %lld, seed %llu now)",
                 ctx.c_str(), (long long)total_, (long long)cap_, (unsigned long long)seed_);
    const int64_t e = st.at("epoch", ctx).as_int(ctx + ": epoch");
    const int64_t k = st.at("emitted", ctx).as_int(ctx + ": emitted");
    UNFOLD_CHECK(e >= 0 && k >= 0 && k <= total_, "%s: epoch %lld / emitted %lld out of range", ctx.c_str(),
                 (long long)e, (long long)k);
    start_epoch(e);
    fill_initial(false);
    for (int64_t i = 0; i < k; i++) draw(false, nullptr);
    if (k == total_) {  // exactly at the epoch end: the next draw starts epoch e+1 (ids_ empty)
        last_id_ = -1;
        return;
    }
    // load the rows now held by the buffer (random access within the recent stream window)
    for (size_t s = 0; s < ids_.size(); s++) read_id(ids_[s], rows_.data() + (int64_t)s * d_);
    stage_begin_ = 0;
    stage_n_ = 0;
    last_id_ = -1;
}

}  // namespace unfold
