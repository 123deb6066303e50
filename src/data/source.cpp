// source.cpp: open_source and the concrete activation sources:
//   NpyStore (memory-mapped .npy), StStore (a safetensors tensor), ShardStore (a shard folder) served through
//   the shuffle buffer (source_shuffle.h); PlantedSource ("planted:d=..,features=..,p=..") generated on the
//   fly; the toy-model source lives in source_toy.cpp.
#include "unfold/data/source.h"

#include <cmath>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/core/half.h"
#include "unfold/data/source_shuffle.h"
#include "unfold/data/synth.h"
#include "unfold/io/fileio.h"
#include "unfold/io/npy.h"
#include "unfold/io/safetensors.h"
#include "unfold/io/shards.h"

namespace unfold {

std::unique_ptr<ActivationSource> open_toy_source(const SourceOptions& opts);  // source_toy.cpp

namespace {

class NpyStore : public RowStore {
  public:
    explicit NpyStore(const std::string& path) : map_(path) {
        const Shape& s = map_.header().shape;
        UNFOLD_CHECK(s.size() == 2 && s[0] > 0 && s[1] > 0, "%s: shape %s, expected [tokens, d] with both > 0",
                     path.c_str(), shape_str(s).c_str());
    }
    int64_t dim() const override { return map_.cols(); }
    int64_t num_chunks() const override { return 1; }
    int64_t chunk_rows(int64_t) const override { return map_.rows(); }
    void read_rows(int64_t, int64_t r0, int64_t n, float* out) const override { map_.read_rows(r0, n, out); }
    std::string describe() const override {
        return strformat("npy %s [%lld, %lld]", map_.path().c_str(), (long long)map_.rows(), (long long)map_.cols());
    }

  private:
    NpyMap map_;
};

class StStore : public RowStore {
  public:
    StStore(const std::string& path, const std::string& name) : rd_(path), name_(name) {
        UNFOLD_CHECK(!name.empty(), "%s: name the activation tensor (file.safetensors:NAME or --tensor NAME)",
                     path.c_str());
        const StEntry& e = rd_.entry(name);
        UNFOLD_CHECK(e.dtype == DType::F32 || e.dtype == DType::F16 || e.dtype == DType::BF16,
                     "%s: tensor '%s': dtype %s, expected F32, F16 or BF16", path.c_str(), name.c_str(),
                     dtype_name(e.dtype));
        UNFOLD_CHECK(e.shape.size() >= 2, "%s: tensor '%s': shape %s, expected [tokens, d] (or [..., d])",
                     path.c_str(), name.c_str(), shape_str(e.shape).c_str());
        d_ = e.shape.back();
        rows_ = shape_numel(e.shape) / std::max<int64_t>(d_, 1);
        UNFOLD_CHECK(d_ > 0 && rows_ > 0, "%s: tensor '%s': empty", path.c_str(), name.c_str());
        dtype_ = e.dtype;
        raw_ = rd_.raw(name);
    }
    int64_t dim() const override { return d_; }
    int64_t num_chunks() const override { return 1; }
    int64_t chunk_rows(int64_t) const override { return rows_; }
    void read_rows(int64_t, int64_t r0, int64_t n, float* out) const override {
        UNFOLD_CHECK(r0 >= 0 && n >= 0 && r0 + n <= rows_, "%s: rows out of range", rd_.path().c_str());
        const size_t es = dtype_size(dtype_);
        const uint8_t* p = raw_ + (size_t)(r0 * d_) * es;
        const int64_t cnt = n * d_;
        for (int64_t i = 0; i < cnt; i++) {
            float v;
            if (dtype_ == DType::F32) {
                std::memcpy(&v, p + 4 * i, 4);
            } else {
                uint16_t h;
                std::memcpy(&h, p + 2 * i, 2);
                v = dtype_ == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
            }
            if (!std::isfinite(v))
                fail("%s: tensor '%s': row %lld: NaN/Inf in data (column %lld)", rd_.path().c_str(), name_.c_str(),
                     (long long)(r0 + i / d_), (long long)(i % d_));
            out[i] = v;
        }
    }
    std::string describe() const override {
        return strformat("safetensors %s:%s [%lld, %lld]", rd_.path().c_str(), name_.c_str(), (long long)rows_,
                         (long long)d_);
    }

  private:
    SafeTensorsReader rd_;
    std::string name_;
    DType dtype_ = DType::F32;
    const uint8_t* raw_ = nullptr;
    int64_t d_ = 0, rows_ = 0;
};

class ShardStore : public RowStore {
  public:
    explicit ShardStore(const std::string& dir) : rd_(dir) {
        UNFOLD_CHECK(rd_.rows() > 0, "%s: the shard folder holds no rows", dir.c_str());
        if (rd_.has_ground_truth()) gt_ = rd_.read_ground_truth();
    }
    int64_t dim() const override { return rd_.d(); }
    int64_t num_chunks() const override { return rd_.num_shards(); }
    int64_t chunk_rows(int64_t c) const override { return rd_.shard_rows(c); }
    void read_rows(int64_t c, int64_t r0, int64_t n, float* out) const override { rd_.read_rows(c, r0, n, out); }
    std::string describe() const override {
        return strformat("shards %s [%lld, %lld] in %lld shards%s", rd_.dir().c_str(), (long long)rd_.rows(),
                         (long long)rd_.d(), (long long)rd_.num_shards(), rd_.index().f16 ? " (f16)" : "");
    }
    const Tensor* ground_truth() const override { return gt_.numel() ? &gt_ : nullptr; }
    Json meta() const override { return rd_.index().meta.is_obj() ? rd_.index().meta : Json::object(); }

  private:
    ShardReader rd_;
    Tensor gt_;
};

// Planted dictionary generated on the fly: row r is a pure function of (recipe seed, r); the stream
// position advances by one per row, so state = position.
class PlantedSource : public ActivationSource {
  public:
    explicit PlantedSource(const PlantedConfig& c) : p_(planted_make(c)) {}
    int64_t dim() const override { return p_.cfg.d; }
    int64_t num_rows() const override { return -1; }
    void next_batch(float* out, int64_t n) override {
        planted_rows(p_, pos_, n, out);
        pos_ += n;
    }
    const Tensor* ground_truth() const override { return &p_.G; }
    std::string describe() const override {
        std::string s = strformat("planted d=%lld features=%lld p=%g noise=%g seed=%llu", (long long)p_.cfg.d,
                                  (long long)p_.cfg.n_true, p_.cfg.p_active, (double)p_.cfg.noise,
                                  (unsigned long long)p_.cfg.seed);
        if (p_.cfg.clusters > 0)
            s += strformat(" clusters=%lld spread=%g", (long long)p_.cfg.clusters, (double)p_.cfg.cluster_spread);
        return s;
    }
    Json state() const override {
        Json j = Json::object();
        j["kind"] = "planted";
        j["position"] = pos_;
        return j;
    }
    void restore(const Json& st) override {
        UNFOLD_CHECK(st.is_obj() && st.get_str("kind", "") == "planted", "source state: not a planted-source state");
        pos_ = st.at("position", "source state").as_int("source state: position");
        UNFOLD_CHECK(pos_ >= 0, "source state: negative position");
    }

  private:
    Planted p_;
    int64_t pos_ = 0;
};

// Part `part` of `parts` of a row store (see SourceOptions::part).
class PartStore : public RowStore {
  public:
    PartStore(std::unique_ptr<RowStore> inner, int part, int parts) : in_(std::move(inner)), part_(part), parts_(parts) {
        const int64_t nc = in_->num_chunks();
        if (nc >= parts) {
            for (int64_t c = part; c < nc; c += parts) pieces_.push_back({c, 0, in_->chunk_rows(c)});
        } else {
            for (int64_t c = 0; c < nc; c++) {
                const int64_t n = in_->chunk_rows(c), lo = n * part / parts, hi = n * (part + 1) / parts;
                if (hi > lo) pieces_.push_back({c, lo, hi - lo});
            }
        }
        int64_t rows = 0;
        for (const Piece& p : pieces_) rows += p.rows;
        UNFOLD_CHECK(rows > 0, "%s: too few rows to give each of %d ranks a part", in_->describe().c_str(), parts);
    }
    int64_t dim() const override { return in_->dim(); }
    int64_t num_chunks() const override { return (int64_t)pieces_.size(); }
    int64_t chunk_rows(int64_t c) const override { return pieces_[(size_t)c].rows; }
    void read_rows(int64_t c, int64_t r0, int64_t n, float* out) const override {
        const Piece& p = pieces_[(size_t)c];
        in_->read_rows(p.chunk, p.first + r0, n, out);
    }
    std::string describe() const override {
        return in_->describe() + strformat(" (part %d of %d)", part_ + 1, parts_);
    }
    const Tensor* ground_truth() const override { return in_->ground_truth(); }
    Json meta() const override { return in_->meta(); }

  private:
    struct Piece {
        int64_t chunk, first, rows;
    };
    std::unique_ptr<RowStore> in_;
    int part_, parts_;
    std::vector<Piece> pieces_;
};

// Part `part` of `parts` of a generated source whose state is its stream position: batch b of n rows is rows
// [(b * parts + part) * n, + n) of the one-process stream; the state is the position of the one-process stream.
class InterleavedSource : public ActivationSource {
  public:
    InterleavedSource(std::unique_ptr<ActivationSource> inner, int part, int parts)
        : in_(std::move(inner)), part_(part), parts_(parts) {}
    int64_t dim() const override { return in_->dim(); }
    int64_t num_rows() const override { return in_->num_rows(); }
    void next_batch(float* out, int64_t n) override {
        seek(position() + part_ * n);
        in_->next_batch(out, n);
        seek(position() + (parts_ - 1 - part_) * n);
    }
    const Tensor* ground_truth() const override { return in_->ground_truth(); }
    std::string describe() const override {
        return in_->describe() + strformat(" (part %d of %d)", part_ + 1, parts_);
    }
    Json meta() const override { return in_->meta(); }
    Json state() const override { return in_->state(); }
    void restore(const Json& st) override { in_->restore(st); }

  private:
    int64_t position() const { return in_->state().at("position", "source state").as_int("source state: position"); }
    void seek(int64_t pos) {
        Json st = in_->state();
        st["position"] = pos;
        in_->restore(st);
    }
    std::unique_ptr<ActivationSource> in_;
    int part_, parts_;
};

uint64_t part_seed(uint64_t seed, int part) { return part == 0 ? seed : seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)part); }

bool ends_with(const std::string& s, const std::string& suf) {
    return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

}  // namespace

std::unique_ptr<ActivationSource> open_source(const std::string& path, const SourceOptions& opts) {
    UNFOLD_CHECK(opts.parts >= 1 && opts.part >= 0 && opts.part < opts.parts, "source: part %d of %d", opts.part,
                 opts.parts);
    auto part_of = [&](std::unique_ptr<ActivationSource> s) -> std::unique_ptr<ActivationSource> {
        if (opts.parts == 1) return s;
        return std::make_unique<InterleavedSource>(std::move(s), opts.part, opts.parts);
    };
    if (!opts.from_toy.empty()) return part_of(open_toy_source(opts));
    UNFOLD_CHECK(!path.empty(), "no activation source given (a .npy, a .safetensors, a shard folder, "
                                "planted:..., or --from-toy)");
    if (path.rfind("planted", 0) == 0 && !file_exists(path)) {
        PlantedConfig c = parse_planted_spec(path);
        if (path.find("seed=") == std::string::npos) c.seed = opts.seed;
        return part_of(std::make_unique<PlantedSource>(c));
    }
    std::unique_ptr<RowStore> store;
    if (is_directory(path)) {
        store = std::make_unique<ShardStore>(path);
    } else {
        // "file.safetensors:name" or file.safetensors + opts.tensor_name
        std::string file = path, name = opts.tensor_name;
        size_t colon = path.rfind(':');
        if (colon != std::string::npos && ends_with(path.substr(0, colon), ".safetensors")) {
            file = path.substr(0, colon);
            name = path.substr(colon + 1);
        }
        UNFOLD_CHECK(file_exists(file), "%s: no such file or folder", file.c_str());
        if (ends_with(file, ".safetensors")) store = std::make_unique<StStore>(file, name);
        else if (ends_with(file, ".npy")) store = std::make_unique<NpyStore>(file);
        else fail("%s: unknown activation source (expected .npy, .safetensors[:tensor], or a shard folder)",
                  file.c_str());
    }
    if (opts.parts > 1) store = std::make_unique<PartStore>(std::move(store), opts.part, opts.parts);
    return std::make_unique<ShuffleSource>(std::move(store), part_seed(opts.seed, opts.part), opts.shuffle_buffer_rows,
                                           opts.sequential);
}

}  // namespace unfold
