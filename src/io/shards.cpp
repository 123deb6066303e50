// shards.cpp: ShardIndex (de)serialisation, ShardWriter (atomic shards + index, resumable) and ShardReader
// (validated, memory-mapped, NaN-checked reads). Format described in shards.h.
#include "unfold/io/shards.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"
#include "unfold/io/npy.h"

namespace unfold {

namespace {

std::string shard_name(int64_t i) { return strformat("shard_%05lld.npy", (long long)i); }
std::string column_name(int64_t i, const std::string& col) {
    return strformat("shard_%05lld.%s.npy", (long long)i, col.c_str());
}

bool valid_column_name(const std::string& c) {
    if (c.empty() || c.size() > 64) return false;
    for (char ch : c)
        if (!(std::isalnum((unsigned char)ch) || ch == '_' || ch == '-')) return false;
    return true;
}

// a file name inside the folder: no separators, no "..", not hidden
bool safe_file_name(const std::string& f) {
    if (f.empty() || f.size() > 255 || f[0] == '.') return false;
    for (char ch : f)
        if (ch == '/' || ch == '\\' || ch == '\0') return false;
    return true;
}

// the files a ShardWriter writes: index.json, ground_truth.npy, shard_NNNNN.npy, shard_NNNNN.<column>.npy
bool written_by_shard_writer(const std::string& f) {
    if (f == "index.json" || f == "ground_truth.npy") return true;
    if (f.rfind("shard_", 0) != 0 || f.size() < 4 || f.compare(f.size() - 4, 4, ".npy") != 0) return false;
    size_t i = 6;
    while (i < f.size() && std::isdigit((unsigned char)f[i])) i++;
    if (i < 11) return false;  // at least five digits
    if (i == f.size() - 4) return true;
    return f[i] == '.' && valid_column_name(f.substr(i + 1, f.size() - 4 - (i + 1)));
}

int64_t first_bad_row(const float* x, int64_t n, int64_t d) {
    for (int64_t r = 0; r < n; r++)
        for (int64_t j = 0; j < d; j++)
            if (!std::isfinite(x[r * d + j])) return r;
    return -1;
}

}  // namespace

Json ShardIndex::to_json() const {
    Json j = Json::object();
    j["format"] = kShardFormat;
    j["version"] = kShardVersion;
    j["d"] = d;
    j["dtype"] = f16 ? "f16" : "f32";
    j["rows"] = rows;
    j["rows_per_shard"] = rows_per_shard;
    j["complete"] = complete;
    j["columns"] = Json::array_of(columns);
    if (!ground_truth.empty()) j["ground_truth"] = ground_truth;
    j["meta"] = meta.is_obj() ? meta : Json::object();
    Json arr = Json::array();
    for (const auto& s : shards) {
        Json e = Json::object();
        e["file"] = s.file;
        e["rows"] = s.rows;
        e["bytes"] = s.bytes;
        Json cols = Json::object();
        for (size_t c = 0; c < columns.size() && c < s.column_files.size(); c++) cols[columns[c]] = s.column_files[c];
        e["columns"] = cols;
        arr.push(e);
    }
    j["shards"] = arr;
    return j;
}

ShardIndex ShardIndex::from_json(const Json& j, const std::string& ctx) {
    UNFOLD_CHECK(j.is_obj(), "%s: expected a JSON object", ctx.c_str());
    const std::string fmt = j.at("format", ctx).as_str(ctx + ": field 'format'");
    UNFOLD_CHECK(fmt == kShardFormat, "%s: field 'format': expected \"%s\", found \"%s\"", ctx.c_str(), kShardFormat,
                 fmt.c_str());
    int64_t ver = j.at("version", ctx).as_int(ctx + ": field 'version'");
    UNFOLD_CHECK(ver == kShardVersion, "%s: field 'version': expected %d, found %lld", ctx.c_str(), kShardVersion,
                 (long long)ver);
    ShardIndex ix;
    ix.d = j.at("d", ctx).as_int(ctx + ": field 'd'");
    UNFOLD_CHECK(ix.d > 0 && ix.d <= (1 << 24), "%s: field 'd': expected 1..16777216, found %lld", ctx.c_str(),
                 (long long)ix.d);
    const std::string dt = j.at("dtype", ctx).as_str(ctx + ": field 'dtype'");
    UNFOLD_CHECK(dt == "f32" || dt == "f16", "%s: field 'dtype': expected \"f32\" or \"f16\", found \"%s\"",
                 ctx.c_str(), dt.c_str());
    ix.f16 = dt == "f16";
    ix.rows = j.at("rows", ctx).as_int(ctx + ": field 'rows'");
    UNFOLD_CHECK(ix.rows >= 0, "%s: field 'rows': negative", ctx.c_str());
    ix.rows_per_shard = j.at("rows_per_shard", ctx).as_int(ctx + ": field 'rows_per_shard'");
    UNFOLD_CHECK(ix.rows_per_shard > 0, "%s: field 'rows_per_shard': expected > 0", ctx.c_str());
    ix.complete = j.get_bool("complete", false);
    if (const Json* cols = j.find("columns")) {
        UNFOLD_CHECK(cols->is_arr(), "%s: field 'columns': expected an array of names", ctx.c_str());
        for (const auto& c : cols->arr) {
            const std::string& name = c.as_str(ctx + ": field 'columns'");
            UNFOLD_CHECK(valid_column_name(name), "%s: field 'columns': bad column name \"%s\"", ctx.c_str(),
                         name.c_str());
            for (const auto& prev : ix.columns)
                UNFOLD_CHECK(prev != name, "%s: field 'columns': duplicate \"%s\"", ctx.c_str(), name.c_str());
            ix.columns.push_back(name);
        }
    }
    if (const Json* gt = j.find("ground_truth")) {
        ix.ground_truth = gt->as_str(ctx + ": field 'ground_truth'");
        UNFOLD_CHECK(safe_file_name(ix.ground_truth), "%s: field 'ground_truth': bad file name \"%s\"", ctx.c_str(),
                     ix.ground_truth.c_str());
    }
    if (const Json* m = j.find("meta")) ix.meta = *m;
    const Json& arr = j.at("shards", ctx);
    UNFOLD_CHECK(arr.is_arr(), "%s: field 'shards': expected an array", ctx.c_str());
    int64_t sum = 0;
    for (size_t i = 0; i < arr.arr.size(); i++) {
        const Json& e = arr.arr[i];
        const std::string sctx = strformat("%s: shards[%zu]", ctx.c_str(), i);
        UNFOLD_CHECK(e.is_obj(), "%s: expected an object", sctx.c_str());
        ShardInfo s;
        s.file = e.at("file", sctx).as_str(sctx + ": field 'file'");
        UNFOLD_CHECK(safe_file_name(s.file), "%s: field 'file': bad file name \"%s\"", sctx.c_str(), s.file.c_str());
        s.rows = e.at("rows", sctx).as_int(sctx + ": field 'rows'");
        UNFOLD_CHECK(s.rows > 0, "%s (%s): field 'rows': expected > 0, found %lld", sctx.c_str(), s.file.c_str(),
                     (long long)s.rows);
        int64_t b = e.at("bytes", sctx).as_int(sctx + ": field 'bytes'");
        UNFOLD_CHECK(b > 0, "%s (%s): field 'bytes': expected > 0", sctx.c_str(), s.file.c_str());
        s.bytes = (uint64_t)b;
        const Json* cols = e.find("columns");
        for (const auto& c : ix.columns) {
            const Json* f = cols ? cols->find(c) : nullptr;
            UNFOLD_CHECK(f, "%s (%s): field 'columns': missing column \"%s\"", sctx.c_str(), s.file.c_str(),
                         c.c_str());
            const std::string& cf = f->as_str(sctx + ": column " + c);
            UNFOLD_CHECK(safe_file_name(cf), "%s (%s): column \"%s\": bad file name \"%s\"", sctx.c_str(),
                         s.file.c_str(), c.c_str(), cf.c_str());
            s.column_files.push_back(cf);
        }
        // sum stays <= ix.rows, so this neither overflows (two shards of 2^63 - 1 rows did) nor passes a lie
        UNFOLD_CHECK(s.rows <= ix.rows - sum,
                     "%s: field 'rows' says %lld but the shards hold more (shards[%zu] alone brings them past it)",
                     ctx.c_str(), (long long)ix.rows, i);
        sum += s.rows;
        ix.shards.push_back(std::move(s));
    }
    UNFOLD_CHECK(sum == ix.rows, "%s: field 'rows' says %lld but the shards hold %lld rows", ctx.c_str(),
                 (long long)ix.rows, (long long)sum);
    return ix;
}

bool is_shard_folder(const std::string& dir) {
    return is_directory(dir) && file_exists(path_join(dir, "index.json"));
}

// ---------------------------------------------------------------------------------------------------------
// ShardWriter

ShardWriter::ShardWriter(const std::string& dir, const ShardWriterOptions& opts, bool resume) : dir_(dir) {
    UNFOLD_CHECK(opts.d > 0, "%s: shard writer: d must be > 0", dir.c_str());
    UNFOLD_CHECK(opts.rows_per_shard > 0, "%s: shard writer: rows_per_shard must be > 0", dir.c_str());
    for (const auto& c : opts.columns)
        UNFOLD_CHECK(valid_column_name(c), "%s: shard writer: bad column name \"%s\"", dir.c_str(), c.c_str());
    const std::string ipath = path_join(dir, "index.json");
    // A writer killed outright (kill -9) left its temporaries (shard_00003.npy.tmp.<pid>.<n>): a writer that
    // takes the folder over removes them (only names a shard writer writes, only of processes that are gone).
    if (!resume) {
        UNFOLD_CHECK(!file_exists(ipath), "%s: already holds a shard index (use a new folder, or resume)",
                     dir.c_str());
        remove_stale_temporaries(dir, written_by_shard_writer);
        make_dirs(dir);
        index_.d = opts.d;
        index_.f16 = opts.f16;
        index_.rows_per_shard = opts.rows_per_shard;
        index_.columns = opts.columns;
        index_.meta = opts.meta.is_obj() ? opts.meta : Json::object();
        write_index();  // an empty, valid folder from the start
    } else {
        UNFOLD_CHECK(file_exists(ipath), "%s: cannot resume: no index.json", dir.c_str());
        remove_stale_temporaries(dir, written_by_shard_writer);
        ShardReader rd(dir);  // full validation
        index_ = rd.index();
        UNFOLD_CHECK(index_.d == opts.d, "%s: cannot resume: index has d = %lld, writer has d = %lld", ipath.c_str(),
                     (long long)index_.d, (long long)opts.d);
        UNFOLD_CHECK(index_.f16 == opts.f16, "%s: cannot resume: index dtype is %s, writer wants %s", ipath.c_str(),
                     index_.f16 ? "f16" : "f32", opts.f16 ? "f16" : "f32");
        UNFOLD_CHECK(index_.columns == opts.columns, "%s: cannot resume: index columns differ from the writer's",
                     ipath.c_str());
        for (const std::string& key : opts.resume_meta_keys) {
            const Json* was = index_.meta.is_obj() ? index_.meta.find(key) : nullptr;
            const Json* now = opts.meta.is_obj() ? opts.meta.find(key) : nullptr;
            if (!was || !was->is_str() || !now || !now->is_str()) continue;  // older folders did not record it
            UNFOLD_CHECK(was->str == now->str, "%s: cannot resume: meta.%s is '%s', this run has '%s'", ipath.c_str(),
                         key.c_str(), was->str.c_str(), now->str.c_str());
        }
        if (opts.meta.is_obj() && opts.meta.size() > 0) index_.meta = opts.meta;
        rows_total_ = index_.rows;
        // reload a trailing partial shard into the buffer (it will be rewritten when full or on finish)
        if (!index_.shards.empty() && index_.shards.back().rows < index_.rows_per_shard) {
            const int64_t s = (int64_t)index_.shards.size() - 1;
            const int64_t r = index_.shards.back().rows;
            buf_.resize((size_t)(r * index_.d));
            rd.read_rows(s, 0, r, buf_.data());
            cbuf_.assign(index_.columns.size(), {});
            for (size_t c = 0; c < index_.columns.size(); c++) cbuf_[c] = rd.read_column(s, index_.columns[c]);
            buffered_ = r;
            index_.shards.pop_back();
            index_.rows -= r;
        }
        index_.complete = false;
        // the index no longer lists the partial shard: if we crash before it is rewritten, a later resume
        // simply regenerates those rows (rows_written() is the restart point), never a size mismatch
        write_index();
    }
    cbuf_.resize(index_.columns.size());
}

ShardWriter::~ShardWriter() = default;

void ShardWriter::append(const float* x, int64_t n, const std::vector<const int32_t*>& cols) {
    UNFOLD_CHECK(!finished_, "%s: append after finish", dir_.c_str());
    UNFOLD_CHECK(cols.size() == index_.columns.size(), "%s: append: %zu columns given, the folder has %zu",
                 dir_.c_str(), cols.size(), index_.columns.size());
    const int64_t d = index_.d;
    int64_t bad = first_bad_row(x, n, d);
    UNFOLD_CHECK(bad < 0, "%s: appended row %lld (global row %lld) has NaN/Inf", dir_.c_str(), (long long)bad,
                 (long long)(rows_total_ + bad));
    int64_t done = 0;
    while (done < n) {
        int64_t take = std::min(n - done, index_.rows_per_shard - buffered_);
        buf_.insert(buf_.end(), x + done * d, x + (done + take) * d);
        for (size_t c = 0; c < cols.size(); c++) cbuf_[c].insert(cbuf_[c].end(), cols[c] + done, cols[c] + done + take);
        buffered_ += take;
        rows_total_ += take;
        done += take;
        if (buffered_ == index_.rows_per_shard) write_shard();
    }
}

void ShardWriter::write_shard() {
    if (buffered_ == 0) return;
    const int64_t s = (int64_t)index_.shards.size();
    ShardInfo info;
    info.file = shard_name(s);
    info.rows = buffered_;
    const std::string path = path_join(dir_, info.file);
    npy_save(path, {buffered_, index_.d}, buf_.data(), index_.f16);
    info.bytes = file_size(path);
    for (size_t c = 0; c < index_.columns.size(); c++) {
        std::string cf = column_name(s, index_.columns[c]);
        npy_save_int32(path_join(dir_, cf), {buffered_}, cbuf_[c].data());
        info.column_files.push_back(cf);
    }
    index_.shards.push_back(info);
    index_.rows += buffered_;
    buffered_ = 0;
    buf_.clear();
    for (auto& cb : cbuf_) cb.clear();
    write_index();
}

void ShardWriter::write_index() { json_save(path_join(dir_, "index.json"), index_.to_json()); }

void ShardWriter::set_ground_truth(const float* g, int64_t n_true) {
    UNFOLD_CHECK(n_true > 0, "%s: ground truth needs at least one row", dir_.c_str());
    int64_t bad = first_bad_row(g, n_true, index_.d);
    UNFOLD_CHECK(bad < 0, "%s: ground truth row %lld has NaN/Inf", dir_.c_str(), (long long)bad);
    index_.ground_truth = "ground_truth.npy";
    npy_save(path_join(dir_, index_.ground_truth), {n_true, index_.d}, g, false);
    write_index();
}

void ShardWriter::set_meta(const Json& meta) { index_.meta = meta.is_obj() ? meta : Json::object(); }

void ShardWriter::finish() {
    if (finished_) return;
    write_shard();
    index_.complete = true;
    write_index();
    finished_ = true;
}

// ---------------------------------------------------------------------------------------------------------
// ShardReader

ShardReader::ShardReader(const std::string& dir) : dir_(dir) {
    const std::string ipath = path_join(dir, "index.json");
    UNFOLD_CHECK(is_directory(dir), "%s: not a folder", dir.c_str());
    UNFOLD_CHECK(file_exists(ipath), "%s: missing (not a shard folder)", ipath.c_str());
    index_ = ShardIndex::from_json(json_load(ipath), ipath);
    const size_t item = index_.f16 ? 2 : 4;
    for (size_t i = 0; i < index_.shards.size(); i++) {
        const ShardInfo& s = index_.shards[i];
        const std::string p = path_join(dir, s.file);
        UNFOLD_CHECK(file_exists(p), "%s: shard %zu (%s): file missing", ipath.c_str(), i, s.file.c_str());
        uint64_t sz = file_size(p);
        UNFOLD_CHECK(sz == s.bytes, "%s: shard %zu (%s): field 'bytes' says %llu, the file has %llu", ipath.c_str(), i,
                     s.file.c_str(), (unsigned long long)s.bytes, (unsigned long long)sz);
        NpyMap m(p);
        const NpyHeader& h = m.header();
        const bool type_ok = index_.f16 ? h.type == NpyType::F16 : h.type == NpyType::F32;
        UNFOLD_CHECK(type_ok, "%s: shard %zu (%s): dtype mismatch: index says %s, the file holds another dtype",
                     ipath.c_str(), i, s.file.c_str(), index_.f16 ? "f16" : "f32");
        UNFOLD_CHECK(h.shape.size() == 2 && h.shape[0] == s.rows && h.shape[1] == index_.d,
                     "%s: shard %zu (%s): shape %s, index says [%lld,%lld]", ipath.c_str(), i, s.file.c_str(),
                     shape_str(h.shape).c_str(), (long long)s.rows, (long long)index_.d);
        UNFOLD_CHECK(h.data_offset + (uint64_t)s.rows * index_.d * item == sz,
                     "%s: shard %zu (%s): size does not match its header", ipath.c_str(), i, s.file.c_str());
        for (size_t c = 0; c < index_.columns.size(); c++) {
            const std::string cp = path_join(dir, s.column_files[c]);
            UNFOLD_CHECK(file_exists(cp), "%s: shard %zu (%s): column \"%s\" file %s missing", ipath.c_str(), i,
                         s.file.c_str(), index_.columns[c].c_str(), s.column_files[c].c_str());
            MappedFile cf(cp);
            NpyHeader ch = npy_parse_header(cf.data(), cf.size(), cp);
            UNFOLD_CHECK(ch.type == NpyType::I32 && shape_numel(ch.shape) == s.rows,
                         "%s: shard %zu (%s): column \"%s\": expected int32 [%lld], found shape %s", ipath.c_str(), i,
                         s.file.c_str(), index_.columns[c].c_str(), (long long)s.rows, shape_str(ch.shape).c_str());
        }
    }
    if (!index_.ground_truth.empty()) {
        const std::string gp = path_join(dir, index_.ground_truth);
        UNFOLD_CHECK(file_exists(gp), "%s: field 'ground_truth': file %s missing", ipath.c_str(),
                     index_.ground_truth.c_str());
    }
    maps_.resize(index_.shards.size());
}

ShardReader::~ShardReader() = default;

const NpyMap& ShardReader::map(int64_t s) const {
    UNFOLD_CHECK(s >= 0 && s < num_shards(), "%s: shard %lld out of range [0, %lld)", dir_.c_str(), (long long)s,
                 (long long)num_shards());
    if (!maps_[(size_t)s]) {
        if ((int64_t)open_order_.size() >= max_open_) {
            maps_[(size_t)open_order_.front()].reset();
            open_order_.erase(open_order_.begin());
        }
        maps_[(size_t)s] = std::make_shared<NpyMap>(path_join(dir_, index_.shards[(size_t)s].file));
        open_order_.push_back(s);
    }
    return *maps_[(size_t)s];
}

void ShardReader::read_rows(int64_t s, int64_t r0, int64_t n, float* out) const {
    const NpyMap& m = map(s);
    const ShardInfo& info = index_.shards[(size_t)s];
    UNFOLD_CHECK(r0 >= 0 && n >= 0 && r0 + n <= info.rows, "%s: rows [%lld, %lld) out of range (%lld rows)",
                 info.file.c_str(), (long long)r0, (long long)(r0 + n), (long long)info.rows);
    // NpyMap::read_rows rejects NaN/Inf naming the file and row; add the folder for context
    try {
        m.read_rows(r0, n, out);
    } catch (const Error& e) {
        fail("%s: shard %lld: %s", dir_.c_str(), (long long)s, e.what());
    }
}

std::vector<int32_t> ShardReader::read_column(int64_t s, const std::string& column) const {
    UNFOLD_CHECK(s >= 0 && s < num_shards(), "%s: shard %lld out of range", dir_.c_str(), (long long)s);
    size_t c = 0;
    while (c < index_.columns.size() && index_.columns[c] != column) c++;
    UNFOLD_CHECK(c < index_.columns.size(), "%s: no column named \"%s\"", dir_.c_str(), column.c_str());
    const std::string p = path_join(dir_, index_.shards[(size_t)s].column_files[c]);
    std::vector<int64_t> v = npy_load_int(p);
    UNFOLD_CHECK((int64_t)v.size() == index_.shards[(size_t)s].rows, "%s: expected %lld values, found %zu", p.c_str(),
                 (long long)index_.shards[(size_t)s].rows, v.size());
    std::vector<int32_t> out(v.size());
    for (size_t i = 0; i < v.size(); i++) out[i] = (int32_t)v[i];
    return out;
}

Tensor ShardReader::read_ground_truth() const {
    UNFOLD_CHECK(has_ground_truth(), "%s: no ground truth recorded", dir_.c_str());
    const std::string gp = path_join(dir_, index_.ground_truth);
    Tensor g = npy_load(gp);
    UNFOLD_CHECK(g.ndim() == 2 && g.dim(1) == index_.d && g.dim(0) > 0, "%s: expected shape [n_true, %lld], found %s",
                 gp.c_str(), (long long)index_.d, shape_str(g.shape).c_str());
    for (int64_t i = 0; i < g.dim(0); i++) {
        double s = 0;
        for (int64_t j = 0; j < index_.d; j++) s += (double)g[(size_t)(i * index_.d + j)] * g[(size_t)(i * index_.d + j)];
        UNFOLD_CHECK(std::fabs(std::sqrt(s) - 1.0) < 1e-3, "%s: row %lld has norm %.4f, expected unit rows",
                     gp.c_str(), (long long)i, std::sqrt(s));
    }
    return g;
}

}  // namespace unfold
