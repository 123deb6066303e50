// source_toy.cpp: hidden activations of a trained toy model of superposition, generated on the fly.
//
// `--from-toy runs/t1 --instance 7`: loads the run (toy_load_run), draws inputs x with the model's own data
// recipe (toy_sample_batch over blocks of kBlock rows; block b uses step stream kStreamBase + b, far from the
// training steps), and serves the hidden vector of instance K:
//   linear / relu models:  h = W x            [m]
//   hidden-relu:           h = ReLU(W x)
//   abs:                   h = ReLU(W1 x)
// Ground truth: the feature directions W[:, i] of the represented features (||W_i|| > 0.5), normalised, as
// rows [n_represented, m]. Row r is a pure function of (run, seed, r); state = position.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/data/source.h"
#include "unfold/toy/toy.h"

namespace unfold {

namespace {

constexpr int kBlock = 1024;
constexpr uint64_t kStreamBase = 1ull << 40;

class ToySource : public ActivationSource {
  public:
    ToySource(const std::string& dir, int inst, uint64_t seed) : dir_(dir), inst_(inst), seed_(seed) {
        model_ = toy_load_run(dir);
        const ToyConfig& c = model_.cfg;
        UNFOLD_CHECK(inst >= 0 && inst < c.n_instances, "%s: --instance %d out of range (the run has %d instances)",
                     dir.c_str(), inst, c.n_instances);
        n_ = c.n_features;
        m_ = c.n_hidden;
        W_ = toy_feature_weights(model_, inst);  // [m, n]
        relu_ = c.kind == ToyKind::HIDDEN_RELU || c.kind == ToyKind::ABS;
        std::vector<float> rows;
        int64_t k = 0;
        for (int i = 0; i < n_; i++) {
            double s = 0;
            for (int j = 0; j < m_; j++) s += (double)W_[j * n_ + i] * W_[j * n_ + i];
            double nrm = std::sqrt(s);
            if (nrm <= 0.5) continue;
            for (int j = 0; j < m_; j++) rows.push_back((float)(W_[j * n_ + i] / nrm));
            k++;
        }
        if (k > 0) {
            gt_ = Tensor({k, (int64_t)m_});
            gt_.data = rows;
        }
        xb_.resize((size_t)kBlock * c.n_instances * n_);
        hb_.resize((size_t)kBlock * m_);
    }
    int64_t dim() const override { return m_; }
    int64_t num_rows() const override { return -1; }
    void next_batch(float* out, int64_t n) override {
        for (int64_t r = 0; r < n; r++) {
            const int64_t blk = pos_ / kBlock;
            if (blk != cur_block_) make_block(blk);
            std::memcpy(out + r * m_, hb_.data() + (pos_ % kBlock) * m_, sizeof(float) * (size_t)m_);
            pos_++;
        }
    }
    const Tensor* ground_truth() const override { return gt_.numel() ? &gt_ : nullptr; }
    std::string describe() const override {
        return strformat("toy %s instance %d (%s, n=%d, m=%d), seed %llu", dir_.c_str(), inst_,
                         toy_kind_name(model_.cfg.kind), n_, m_, (unsigned long long)seed_);
    }
    Json state() const override {
        Json j = Json::object();
        j["kind"] = "toy";
        j["position"] = pos_;
        return j;
    }
    void restore(const Json& st) override {
        UNFOLD_CHECK(st.is_obj() && st.get_str("kind", "") == "toy", "source state: not a toy-source state");
        pos_ = st.at("position", "source state").as_int("source state: position");
        UNFOLD_CHECK(pos_ >= 0, "source state: negative position");
        cur_block_ = -1;
    }

  private:
    std::string dir_;
    int inst_;
    uint64_t seed_;
    ToyModel model_;
    int n_ = 0, m_ = 0;
    const float* W_ = nullptr;
    bool relu_ = false;
    Tensor gt_;
    std::vector<float> xb_, hb_;
    int64_t pos_ = 0, cur_block_ = -1;

    void make_block(int64_t blk) {
        const ToyConfig& c = model_.cfg;
        // seed mixes into the stream so different --seed give different inputs from the same run
        const uint64_t stream = kStreamBase + (seed_ << 24) + (uint64_t)blk;
        toy_sample_batch(c, stream, kBlock, xb_.data());  // x[B, I, n]
        for (int b = 0; b < kBlock; b++) {
            const float* x = xb_.data() + ((size_t)b * c.n_instances + inst_) * n_;
            float* h = hb_.data() + (size_t)b * m_;
            for (int j = 0; j < m_; j++) {
                const float* w = W_ + (size_t)j * n_;
                float s = 0;
                for (int i = 0; i < n_; i++) s += w[i] * x[i];
                h[j] = relu_ ? std::max(s, 0.0f) : s;
            }
        }
        cur_block_ = blk;
    }
};

}  // namespace

std::unique_ptr<ActivationSource> open_toy_source(const SourceOptions& opts) {
    return std::make_unique<ToySource>(opts.from_toy, opts.toy_instance, opts.seed);
}

}  // namespace unfold
