// fuzz_feature_db_rows.cpp: the features database reader on databases that SQLite reads fine but whose values
// are hostile: the input is a list of edits applied (with bound parameters) to a valid database
// (feature_db_template.h), so what gets fuzzed is the reader's handling of the values, not SQLite's file format.
// Each edit is 3 bytes and a value:
//   byte 0: the column (modulo the list below), byte 1: the row (OFFSET into the table), byte 2: the value's
//   kind (modulo 6: NULL, 8-byte integer, 8-byte double, text with a length byte, blob with a length byte,
//   delete the row).
#include <sqlite3.h>

#include <cstring>

#include "feature_db_template.h"

namespace {

struct Col {
    const char* table;
    const char* column;
};

const Col kCols[] = {
    {"meta", "value"}, {"meta", "key"}, {"vocab", "id"}, {"vocab", "text"}, {"features", "id"}, {"features", "fires"},
    {"features", "density"}, {"features", "mean_act"}, {"features", "max_act"}, {"features", "label"},
    {"features", "hist_hi"}, {"features", "histogram"}, {"features", "neuron"}, {"features", "neuron_cos"},
    {"features", "neuron_share"}, {"contexts", "feature"}, {"contexts", "kind"}, {"contexts", "rank"},
    {"contexts", "value"}, {"contexts", "window"}, {"contexts", "corpus_index"}, {"contexts", "pos"},
    {"contexts", "first"}, {"contexts", "tokens"}, {"contexts", "activations"}, {"contexts", "lo"}, {"contexts", "hi"},
    {"logit_effects", "feature"}, {"logit_effects", "kind"}, {"logit_effects", "token"}, {"logit_effects", "value"},
    {"label_tokens", "feature"}, {"label_tokens", "token"}, {"label_tokens", "share"}, {"label_tokens", "lift"},
    {"cofiring", "feature"}, {"cofiring", "other"}, {"cofiring", "probability"}, {"neighbours", "feature"},
    {"neighbours", "other"}, {"neighbours", "cosine"},
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = unfold_fuzz::put_file("rows.db", unfold_fuzz::feature_db_template());
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) __builtin_trap();
    size_t i = 0;
    for (int edits = 0; i + 3 <= size && edits < 64; edits++) {
        const Col& c = kCols[data[i] % (sizeof kCols / sizeof kCols[0])];
        const int row = data[i + 1];
        const int kind = data[i + 2] % 6;
        i += 3;
        std::string sql = kind == 5 ? std::string("DELETE FROM ") + c.table
                                    : std::string("UPDATE ") + c.table + " SET " + c.column + "=?1";
        sql += std::string(" WHERE rowid=(SELECT rowid FROM ") + c.table + " LIMIT 1 OFFSET ?2)";
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) __builtin_trap();
        sqlite3_bind_int(st, 2, row);
        if (kind == 1 || kind == 2) {
            uint8_t b[8] = {0};
            std::memcpy(b, data + i, std::min<size_t>(8, size - i));
            i += std::min<size_t>(8, size - i);
            int64_t v;
            double d;
            std::memcpy(&v, b, 8);
            std::memcpy(&d, b, 8);
            if (kind == 1) sqlite3_bind_int64(st, 1, v);
            else sqlite3_bind_double(st, 1, d);
        } else if (kind == 3 || kind == 4) {
            const size_t n = i < size ? std::min<size_t>(data[i], size - i - 1) : 0;
            const uint8_t* p = i < size ? data + i + 1 : data;
            i += i < size ? n + 1 : 0;
            if (kind == 3) sqlite3_bind_text(st, 1, (const char*)p, (int)n, SQLITE_TRANSIENT);
            else sqlite3_bind_blob(st, 1, p, (int)n, SQLITE_TRANSIENT);
        } else if (kind == 0) {
            sqlite3_bind_null(st, 1);
        }
        sqlite3_step(st);  // constraint violations (NOT NULL, PRIMARY KEY) just leave the row as it was
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    unfold_fuzz::accepts([&] { unfold_fuzz::read_feature_db(path); });
    return 0;
}
