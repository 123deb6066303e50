// json.h: a small JSON value, parser and writer (configs, metrics, reports' data).
//
// Objects keep insertion order (so written files read naturally). Integers are kept exactly: a value
// made from an integer type, or parsed from an integer literal (no fraction, no exponent) that fits
// int64 or uint64, is held as that integer and written digit for digit (so 64-bit seeds round-trip);
// `num` always holds its double too. Other numbers are doubles, written with the shortest text that
// round-trips; NaN/Inf are written as null. The parser is strict RFC 8259 with a
// depth limit, and its errors name the source, line and column: "cfg.json: line 3 col 7: expected ':'".
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace unfold {

struct Json {
    enum Type { NUL, BOOL, NUM, STR, ARR, OBJ };
    enum NumRep : uint8_t { REAL, INT, UINT };  // how a NUM is held: double only, int64 exact, uint64 exact
    Type type = NUL;
    bool b = false;
    double num = 0.0;  // every NUM's value as a double (rounded for integers beyond 2^53)
    NumRep rep = REAL;
    int64_t ival = 0;   // rep == INT
    uint64_t uval = 0;  // rep == UINT (only values above INT64_MAX)
    std::string str;
    std::vector<Json> arr;
    std::vector<std::pair<std::string, Json>> obj;

    Json() = default;
    Json(std::nullptr_t) {}
    Json(bool v) : type(BOOL), b(v) {}
    Json(double v) : type(NUM), num(v) {}
    Json(float v) : type(NUM), num(v) {}
    Json(int v) : Json((int64_t)v) {}
    Json(unsigned v) : Json((int64_t)v) {}
    Json(int64_t v) : type(NUM), num((double)v), rep(INT), ival(v) {}
    Json(uint64_t v)
        : type(NUM), num((double)v), rep(v > (uint64_t)INT64_MAX ? UINT : INT), ival((int64_t)v), uval(v) {}
    Json(const char* v) : type(STR), str(v) {}
    Json(std::string v) : type(STR), str(std::move(v)) {}
    static Json object() { Json j; j.type = OBJ; return j; }
    static Json array() { Json j; j.type = ARR; return j; }
    template <class T> static Json array_of(const std::vector<T>& v) {
        Json j = array();
        for (const auto& x : v) j.arr.push_back(Json(x));
        return j;
    }

    bool is_null() const { return type == NUL; }
    bool is_obj() const { return type == OBJ; }
    bool is_arr() const { return type == ARR; }
    bool is_num() const { return type == NUM; }
    bool is_str() const { return type == STR; }
    bool is_bool() const { return type == BOOL; }

    // object access: operator[] inserts (turns a null into an object); find returns nullptr if missing
    Json& operator[](const std::string& key);
    const Json* find(const std::string& key) const;
    bool has(const std::string& key) const { return find(key) != nullptr; }
    void push(Json v);  // array append (turns a null into an array)
    size_t size() const { return type == ARR ? arr.size() : type == OBJ ? obj.size() : 0; }

    // Typed reads for untrusted input: `ctx` names the file/field in the error message.
    double as_num(const std::string& ctx) const;
    int64_t as_int(const std::string& ctx) const;  // must be integral and fit int64
    // A non-negative integer up to 2^64-1, exactly. Also accepts a string of decimal digits: the form
    // older unfold files stored 64-bit seeds in.
    uint64_t as_u64(const std::string& ctx) const;
    bool is_integer() const { return type == NUM && rep != REAL; }
    bool as_bool(const std::string& ctx) const;
    const std::string& as_str(const std::string& ctx) const;
    const Json& at(const std::string& key, const std::string& ctx) const;  // required key
    // Optional keys with defaults.
    double get_num(const std::string& key, double def) const;
    int64_t get_int(const std::string& key, int64_t def) const;    // def when missing, not a number or > INT64_MAX
    uint64_t get_u64(const std::string& key, uint64_t def) const;  // like as_u64; def when missing or invalid
    bool get_bool(const std::string& key, bool def) const;
    std::string get_str(const std::string& key, const std::string& def) const;

    std::string dump(int indent = 2) const;  // indent < 0: compact single line
};

Json json_parse(const std::string& text, const std::string& source_name);
Json json_load(const std::string& path);                    // reads + parses; errors name the path
void json_save(const std::string& path, const Json& j);     // atomic (temp file + rename)

}  // namespace unfold
