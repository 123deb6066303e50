// feature_db.cpp: the SQLite features database (see feature_db.h).
#include "unfold/features/feature_db.h"

#include <sqlite3.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "unfold/core/error.h"
#include "unfold/io/fileio.h"

namespace unfold {

namespace {

const char* kSchema = R"SQL(
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE vocab(id INTEGER PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE features(id INTEGER PRIMARY KEY, fires INTEGER NOT NULL, density REAL NOT NULL, mean_act REAL NOT NULL,
                      max_act REAL NOT NULL, label TEXT NOT NULL, hist_hi REAL NOT NULL, histogram TEXT NOT NULL,
                      neuron INTEGER, neuron_cos REAL, neuron_share REAL);
CREATE TABLE contexts(feature INTEGER NOT NULL, kind TEXT NOT NULL, rank INTEGER NOT NULL, value REAL NOT NULL,
                      window INTEGER NOT NULL, corpus_index INTEGER NOT NULL, pos INTEGER NOT NULL,
                      first INTEGER NOT NULL, tokens TEXT NOT NULL, activations TEXT NOT NULL, lo REAL, hi REAL);
CREATE TABLE logit_effects(feature INTEGER NOT NULL, kind TEXT NOT NULL, rank INTEGER NOT NULL, token INTEGER NOT NULL,
                           value REAL NOT NULL);
CREATE TABLE label_tokens(feature INTEGER NOT NULL, rank INTEGER NOT NULL, token INTEGER NOT NULL, share REAL NOT NULL,
                          lift REAL NOT NULL);
CREATE TABLE cofiring(feature INTEGER NOT NULL, rank INTEGER NOT NULL, other INTEGER NOT NULL,
                      probability REAL NOT NULL);
CREATE TABLE neighbours(feature INTEGER NOT NULL, rank INTEGER NOT NULL, other INTEGER NOT NULL, cosine REAL NOT NULL);
)SQL";
const char* kIndexes = R"SQL(
CREATE INDEX contexts_by_feature ON contexts(feature, kind, rank);
CREATE INDEX logit_effects_by_feature ON logit_effects(feature, kind, rank);
CREATE INDEX label_tokens_by_feature ON label_tokens(feature, rank);
CREATE INDEX cofiring_by_feature ON cofiring(feature, rank);
CREATE INDEX neighbours_by_feature ON neighbours(feature, rank);
)SQL";

sqlite3* H(void* p) { return (sqlite3*)p; }

// SQLite's messages (e.g. quick_check's report) may span lines; an error is one line
std::string one_line(std::string m) {
    for (char& c : m)
        if (c == '\n' || c == '\r') c = ';';
    if (m.size() > 300) m = m.substr(0, 300) + "...";
    return m;
}

[[noreturn]] void sql_fail(sqlite3* db, const std::string& path, const char* what) {
    fail("%s: %s: %s", path.c_str(), what, db ? one_line(sqlite3_errmsg(db)).c_str() : "cannot open");
}

void exec(sqlite3* db, const std::string& path, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string e = one_line(err ? err : "error");
        sqlite3_free(err);
        fail("%s: %s", path.c_str(), e.c_str());
    }
}

// a prepared statement, finalised on scope exit
struct Stmt {
    sqlite3_stmt* s = nullptr;
    sqlite3* db = nullptr;
    const std::string* path = nullptr;
    Stmt(sqlite3* d, const std::string& p, const char* sql) : db(d), path(&p) {
        if (sqlite3_prepare_v2(d, sql, -1, &s, nullptr) != SQLITE_OK) sql_fail(d, p, "not a features database");
    }
    ~Stmt() { sqlite3_finalize(s); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    Stmt& i(int k, int64_t v) { sqlite3_bind_int64(s, k, v); return *this; }
    Stmt& d(int k, double v) { sqlite3_bind_double(s, k, v); return *this; }
    Stmt& t(int k, const std::string& v) { sqlite3_bind_text(s, k, v.data(), (int)v.size(), SQLITE_TRANSIENT); return *this; }
    Stmt& null(int k) { sqlite3_bind_null(s, k); return *this; }
    bool step() {  // true: a row
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        sql_fail(db, *path, "read failed");
    }
    void run() {
        step();
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
    int64_t ci(int k) const { return sqlite3_column_int64(s, k); }
    double cd(int k) const { return sqlite3_column_double(s, k); }
    bool cnull(int k) const { return sqlite3_column_type(s, k) == SQLITE_NULL; }
    std::string ct(int k) const {
        const unsigned char* p = sqlite3_column_text(s, k);
        return p ? std::string((const char*)p, (size_t)sqlite3_column_bytes(s, k)) : std::string();
    }
};

std::string ids_json(const std::vector<int32_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
}
std::string floats_json(const std::vector<float>& v) {  // shortest text that reads back as the same float
    std::string s = "[";
    char buf[32];
    for (size_t i = 0; i < v.size(); i++) {
        if (i) s += ',';
        const auto r = std::to_chars(buf, buf + sizeof buf, v[i]);
        s.append(buf, r.ptr);
    }
    return s + "]";
}
std::string i64s_json(const std::vector<int64_t>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); i++) s += (i ? "," : "") + std::to_string(v[i]);
    return s + "]";
}

// a JSON array of numbers in [lo, hi] (integral when `integral`), from an untrusted text column
template <class T>
std::vector<T> parse_numbers(const std::string& text, const std::string& path, const char* field, double lo, double hi,
                             bool integral) {
    Json j = json_parse(text, path + ": " + field);
    UNFOLD_CHECK(j.is_arr(), "%s: %s is not a JSON array", path.c_str(), field);
    std::vector<T> out;
    out.reserve(j.arr.size());
    for (const Json& x : j.arr) {
        const double v = x.as_num(path + ": " + field);
        UNFOLD_CHECK(std::isfinite(v) && v >= lo && v <= hi && (!integral || v == std::floor(v)),
                     "%s: %s holds %g, expected %s in [%g, %g]", path.c_str(), field, v,
                     integral ? "an integer" : "a number", lo, hi);
        out.push_back((T)v);
    }
    return out;
}

}  // namespace

// ---- writer -----------------------------------------------------------------------------------------

struct FeatureDbWriter::Stmts {
    Stmt meta, vocab, feature, context, logit, label, cofire, neighbour;
    Stmts(sqlite3* db, const std::string& p)
        : meta(db, p, "INSERT OR REPLACE INTO meta VALUES(?,?)"),
          vocab(db, p, "INSERT INTO vocab VALUES(?,?)"),
          feature(db, p, "INSERT INTO features VALUES(?,?,?,?,?,?,?,?,?,?,?)"),
          context(db, p, "INSERT INTO contexts VALUES(?,?,?,?,?,?,?,?,?,?,?,?)"),
          logit(db, p, "INSERT INTO logit_effects VALUES(?,?,?,?,?)"),
          label(db, p, "INSERT INTO label_tokens VALUES(?,?,?,?,?)"),
          cofire(db, p, "INSERT INTO cofiring VALUES(?,?,?,?)"),
          neighbour(db, p, "INSERT INTO neighbours VALUES(?,?,?,?)") {}
};

FeatureDbWriter::FeatureDbWriter(const std::string& path) : path_(path) {
    tmp_ = atomic_temp_path(path);  // the form remove_stale_temporaries recognises
    std::remove(tmp_.c_str());
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(tmp_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
        std::string e = db ? sqlite3_errmsg(db) : "cannot open";
        sqlite3_close(db);
        fail("%s: cannot create: %s", tmp_.c_str(), e.c_str());
    }
    db_ = db;
    exec(db, tmp_, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;");
    exec(db, tmp_, kSchema);
    exec(db, tmp_, "BEGIN");
    st_ = std::make_unique<Stmts>(db, tmp_);
}

FeatureDbWriter::~FeatureDbWriter() {
    st_.reset();
    if (db_) sqlite3_close(H(db_));
    if (!committed_) std::remove(tmp_.c_str());
}

void FeatureDbWriter::meta(const std::string& key, const std::string& value) { st_->meta.t(1, key).t(2, value).run(); }

void FeatureDbWriter::vocab(const std::vector<std::string>& texts) {
    for (size_t i = 0; i < texts.size(); i++) st_->vocab.i(1, (int64_t)i).t(2, texts[i]).run();
}

void FeatureDbWriter::feature(const DbFeature& f) {
    Stmt& s = st_->feature;
    s.i(1, f.id).i(2, f.fires).d(3, f.density).d(4, f.mean_act).d(5, f.max_act).t(6, f.label).d(7, f.hist_hi);
    s.t(8, i64s_json(f.histogram));
    if (f.neuron >= 0)
        s.i(9, f.neuron).d(10, f.neuron_cos).d(11, f.neuron_share);
    else
        s.null(9).null(10).null(11);
    s.run();
    auto ctxs = [&](const std::vector<DbContext>& v) {
        for (const DbContext& c : v) {
            Stmt& q = st_->context;
            q.i(1, f.id).t(2, c.kind).i(3, c.rank).d(4, c.value).i(5, c.window).i(6, c.corpus_index).i(7, c.pos);
            q.i(8, c.first).t(9, ids_json(c.tokens)).t(10, floats_json(c.activations));
            if (c.kind == "interval")
                q.d(11, c.lo).d(12, c.hi);
            else
                q.null(11).null(12);
            q.run();
        }
    };
    ctxs(f.top);
    ctxs(f.intervals);
    for (size_t r = 0; r < f.promoted.size(); r++)
        st_->logit.i(1, f.id).t(2, "promoted").i(3, (int64_t)r).i(4, f.promoted[r].token).d(5, f.promoted[r].value).run();
    for (size_t r = 0; r < f.suppressed.size(); r++)
        st_->logit.i(1, f.id).t(2, "suppressed").i(3, (int64_t)r).i(4, f.suppressed[r].token).d(5, f.suppressed[r].value).run();
    for (size_t r = 0; r < f.label_tokens.size(); r++)
        st_->label.i(1, f.id).i(2, (int64_t)r).i(3, f.label_tokens[r].token).d(4, f.label_tokens[r].value)
            .d(5, r < f.label_lift.size() ? f.label_lift[r] : 0.0).run();
    for (size_t r = 0; r < f.cofiring.size(); r++)
        st_->cofire.i(1, f.id).i(2, (int64_t)r).i(3, f.cofiring[r].token).d(4, f.cofiring[r].value).run();
    for (size_t r = 0; r < f.neighbours.size(); r++)
        st_->neighbour.i(1, f.id).i(2, (int64_t)r).i(3, f.neighbours[r].token).d(4, f.neighbours[r].value).run();
}

void FeatureDbWriter::commit() {
    sqlite3* db = H(db_);
    exec(db, tmp_, "COMMIT");
    exec(db, tmp_, "BEGIN");
    exec(db, tmp_, kIndexes);
    exec(db, tmp_, "COMMIT");
    st_.reset();
    if (sqlite3_close(db) != SQLITE_OK) fail("%s: cannot close: %s", tmp_.c_str(), sqlite3_errmsg(db));
    db_ = nullptr;
    UNFOLD_CHECK(std::rename(tmp_.c_str(), path_.c_str()) == 0, "%s: cannot rename %s into place: %s", path_.c_str(),
                 tmp_.c_str(), std::strerror(errno));
    committed_ = true;
}

// ---- reader -----------------------------------------------------------------------------------------

FeatureDb::FeatureDb(const std::string& path) : path_(path) {
    UNFOLD_CHECK(file_exists(path), "%s: no such file", path.c_str());
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        std::string e = db ? sqlite3_errmsg(db) : "cannot open";
        sqlite3_close(db);
        fail("%s: cannot open: %s", path.c_str(), e.c_str());
    }
    db_ = db;
    try {
        {
            Stmt s(db, path, "SELECT value FROM meta WHERE key='schema_version'");
            UNFOLD_CHECK(s.step(), "%s: not a features database (meta has no schema_version)", path.c_str());
            const std::string v = s.ct(0);
            UNFOLD_CHECK(v == std::to_string(kFeatureDbSchemaVersion),
                         "%s: features database schema version %s, this unfold reads version %d (rebuild it with "
                         "`unfold features build`)",
                         path.c_str(), v.c_str(), kFeatureDbSchemaVersion);
        }
        {
            Stmt s(db, path, "SELECT COUNT(*), MIN(id), MAX(id) FROM features");
            UNFOLD_CHECK(s.step(), "%s: features table unreadable", path.c_str());
            n_features_ = s.ci(0);
            UNFOLD_CHECK(n_features_ > 0 && s.ci(1) == 0 && s.ci(2) == n_features_ - 1,
                         "%s: features table holds %lld rows with ids %lld..%lld, expected ids 0..n-1", path.c_str(),
                         (long long)n_features_, (long long)s.ci(1), (long long)s.ci(2));
        }
        const std::string d = meta("d_sae");
        UNFOLD_CHECK(d == std::to_string(n_features_), "%s: meta d_sae is '%s' but the features table has %lld rows",
                     path.c_str(), d.c_str(), (long long)n_features_);
        Stmt v(db, path, "SELECT id, text FROM vocab ORDER BY id");
        while (v.step()) {
            const int64_t id = v.ci(0);
            UNFOLD_CHECK(id == (int64_t)vocab_.size() && id < (1 << 24), "%s: vocab ids are not 0..n-1", path.c_str());
            vocab_.push_back(v.ct(1));
        }
        Stmt q(db, path, "PRAGMA quick_check");
        UNFOLD_CHECK(q.step() && q.ct(0) == "ok", "%s: damaged database (%s)", path.c_str(), one_line(q.ct(0)).c_str());
    } catch (...) {
        sqlite3_close(db);
        db_ = nullptr;
        throw;
    }
}

FeatureDb::~FeatureDb() {
    if (db_) sqlite3_close(H(db_));
}

std::string FeatureDb::meta(const std::string& key) const {
    Stmt s(H(db_), path_, "SELECT value FROM meta WHERE key=?");
    s.t(1, key);
    return s.step() ? s.ct(0) : std::string();
}

std::string FeatureDb::token_text(int32_t id) const {
    return id >= 0 && (size_t)id < vocab_.size() ? vocab_[(size_t)id] : std::string();
}

std::vector<DbFeatureSummary> FeatureDb::list() const {
    std::vector<DbFeatureSummary> out;
    Stmt s(H(db_), path_, "SELECT id, fires, density, max_act, label FROM features ORDER BY id");
    while (s.step()) {
        DbFeatureSummary f;
        f.id = s.ci(0);
        f.fires = s.ci(1);
        f.density = s.cd(2);
        f.max_act = s.cd(3);
        f.label = s.ct(4);
        out.push_back(f);
    }
    return out;
}

// one row of `SELECT kind, rank, value, window, corpus_index, pos, first, tokens, activations, lo, hi`
DbContext FeatureDb::read_context(const void* stmt, int64_t feature) const {
    const Stmt& s = *(const Stmt*)stmt;
    DbContext c;
    c.kind = s.ct(0);
    c.rank = (int)s.ci(1);
    c.value = (float)s.cd(2);
    c.window = s.ci(3);
    c.corpus_index = s.ci(4);
    c.pos = (int)s.ci(5);
    c.first = (int)s.ci(6);
    c.tokens = parse_numbers<int32_t>(s.ct(7), path_, "contexts.tokens", 0, (double)vocab_.size() - 1, true);
    c.activations = parse_numbers<float>(s.ct(8), path_, "contexts.activations", -3.4e38, 3.4e38, false);
    UNFOLD_CHECK(c.tokens.size() == c.activations.size(), "%s: feature %lld: a context with %zu tokens and %zu activations",
                 path_.c_str(), (long long)feature, c.tokens.size(), c.activations.size());
    c.lo = s.cd(9);
    c.hi = s.cd(10);
    return c;
}

void FeatureDb::for_each_context(const std::string& kind, int max_rank,
                                 const std::function<void(int64_t feature, const DbContext&)>& fn) const {
    Stmt s(H(db_), path_, "SELECT kind, rank, value, window, corpus_index, pos, first, tokens, activations, lo, hi, "
                          "feature FROM contexts WHERE kind=? AND rank<? ORDER BY feature, rank, value DESC");
    s.t(1, kind).i(2, max_rank);
    while (s.step()) {
        const int64_t f = s.ci(11);
        UNFOLD_CHECK(f >= 0 && f < n_features_, "%s: a context of feature %lld, outside [0, %lld)", path_.c_str(),
                     (long long)f, (long long)n_features_);
        fn(f, read_context(&s, f));
    }
}

DbFeature FeatureDb::feature(int64_t id) const {
    UNFOLD_CHECK(id >= 0 && id < n_features_, "%s: feature %lld is out of range [0, %lld)", path_.c_str(),
                 (long long)id, (long long)n_features_);
    sqlite3* db = H(db_);
    DbFeature f;
    {
        Stmt s(db, path_, "SELECT id, fires, density, mean_act, max_act, label, hist_hi, histogram, neuron, neuron_cos, "
                          "neuron_share FROM features WHERE id=?");
        s.i(1, id);
        UNFOLD_CHECK(s.step(), "%s: feature %lld missing", path_.c_str(), (long long)id);
        f.id = s.ci(0);
        f.fires = s.ci(1);
        f.density = s.cd(2);
        f.mean_act = s.cd(3);
        f.max_act = s.cd(4);
        f.label = s.ct(5);
        f.hist_hi = s.cd(6);
        f.histogram = parse_numbers<int64_t>(s.ct(7), path_, "features.histogram", 0, 9.007199254740992e15, true);
        if (!s.cnull(8)) {
            f.neuron = s.ci(8);
            f.neuron_cos = s.cd(9);
            f.neuron_share = s.cd(10);
        }
    }
    {
        Stmt s(db, path_, "SELECT kind, rank, value, window, corpus_index, pos, first, tokens, activations, lo, hi "
                          "FROM contexts WHERE feature=? ORDER BY kind DESC, rank, value DESC");
        s.i(1, id);
        while (s.step()) {
            DbContext c = read_context(&s, id);
            (c.kind == "top" ? f.top : f.intervals).push_back(std::move(c));
        }
    }
    {
        Stmt s(db, path_, "SELECT kind, token, value FROM logit_effects WHERE feature=? ORDER BY kind, rank");
        s.i(1, id);
        while (s.step()) (s.ct(0) == "promoted" ? f.promoted : f.suppressed).push_back({(int32_t)s.ci(1), s.cd(2)});
    }
    {
        Stmt s(db, path_, "SELECT token, share, lift FROM label_tokens WHERE feature=? ORDER BY rank");
        s.i(1, id);
        while (s.step()) {
            f.label_tokens.push_back({(int32_t)s.ci(0), s.cd(1)});
            f.label_lift.push_back(s.cd(2));
        }
    }
    {
        Stmt s(db, path_, "SELECT other, probability FROM cofiring WHERE feature=? ORDER BY rank");
        s.i(1, id);
        while (s.step()) f.cofiring.push_back({(int32_t)s.ci(0), s.cd(1)});
    }
    {
        Stmt s(db, path_, "SELECT other, cosine FROM neighbours WHERE feature=? ORDER BY rank");
        s.i(1, id);
        while (s.step()) f.neighbours.push_back({(int32_t)s.ci(0), s.cd(1)});
    }
    return f;
}

Json FeatureDb::feature_json(const DbFeature& f) const {
    Json j = Json::object();
    j["feature"] = f.id;
    j["fires"] = f.fires;
    j["density"] = f.density;
    j["mean_activation"] = f.mean_act;
    j["max_activation"] = f.max_act;
    j["label"] = f.label;
    Json lt = Json::array();
    for (size_t r = 0; r < f.label_tokens.size(); r++) {
        Json t = Json::object();
        t["token"] = token_text(f.label_tokens[r].token);
        t["id"] = f.label_tokens[r].token;
        t["share"] = f.label_tokens[r].value;
        t["lift"] = r < f.label_lift.size() ? f.label_lift[r] : 0.0;
        lt.push(t);
    }
    j["label_tokens"] = lt;
    auto contexts = [&](const std::vector<DbContext>& v) {
        Json a = Json::array();
        for (const DbContext& c : v) {
            Json o = Json::object();
            Json toks = Json::array();
            std::string text;
            for (int32_t t : c.tokens) {
                toks.push(Json(token_text(t)));
                text += token_text(t);
            }
            o["tokens"] = toks;
            o["ids"] = Json::array_of(c.tokens);
            o["activations"] = Json::array_of(c.activations);
            o["text"] = text;
            o["max"] = c.value;
            o["max_index"] = c.pos - c.first;
            o["window"] = c.window;
            o["position"] = c.pos;
            o["corpus_index"] = c.corpus_index;
            if (c.kind == "interval") {
                o["interval"] = Json::array_of(std::vector<double>{c.lo, c.hi});
            }
            a.push(o);
        }
        return a;
    };
    j["top_contexts"] = contexts(f.top);
    j["interval_contexts"] = contexts(f.intervals);
    auto tokvals = [&](const std::vector<DbTokenValue>& v) {
        Json a = Json::array();
        for (const auto& x : v) {
            Json o = Json::object();
            o["token"] = token_text(x.token);
            o["id"] = x.token;
            o["value"] = x.value;
            a.push(o);
        }
        return a;
    };
    Json le = Json::object();
    le["promoted"] = tokvals(f.promoted);
    le["suppressed"] = tokvals(f.suppressed);
    j["logit_effects"] = le;
    Json h = Json::object();
    h["lo"] = 0.0;
    h["hi"] = f.hist_hi;
    h["counts"] = Json::array_of(f.histogram);
    j["histogram"] = h;
    if (f.neuron >= 0) {
        Json n = Json::object();
        n["neuron"] = f.neuron;
        n["cos"] = f.neuron_cos;
        n["share"] = f.neuron_share;
        j["neuron_alignment"] = n;
    } else {
        j["neuron_alignment"] = nullptr;
    }
    auto others = [&](const std::vector<DbTokenValue>& v, const char* key) {
        Json a = Json::array();
        for (const auto& x : v) {
            Json o = Json::object();
            o["feature"] = x.token;
            o[key] = x.value;
            a.push(o);
        }
        return a;
    };
    j["cofiring"] = others(f.cofiring, "probability");
    j["neighbours"] = others(f.neighbours, "cosine");
    return j;
}

}  // namespace unfold
