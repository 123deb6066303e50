// py_common.cpp: array conversion, JSON <-> Python, the call context and the exception mapping (py_common.h).
#include "py_common.h"

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>

#include "unfold/core/error.h"

namespace unfold::py {

namespace {

std::atomic<bool> g_last_copied{false};
PyObject* g_unfold_error = nullptr;

pb::module_ numpy() { return pb::module_::import("numpy"); }

std::string shape_text(const pb::array& a) {
    std::string s = "(";
    for (pb::ssize_t i = 0; i < a.ndim(); i++) {
        if (i) s += ", ";
        s += std::to_string(a.shape(i));
    }
    if (a.ndim() == 1) s += ",";
    return s + ")";
}

std::string dims_text(int ndim, int64_t last_dim) {
    std::string s = ndim == 1 ? "a 1-D array" : ndim == 2 ? "a 2-D array [rows, " : std::to_string(ndim) + "-D array";
    if (ndim == 2) s += last_dim >= 0 ? std::to_string(last_dim) + "]" : "width]";
    else if (ndim == 1 && last_dim >= 0) s += " of " + std::to_string(last_dim) + " values";
    return s;
}

// np.asarray, or np.from_dlpack for objects that only speak DLPack
pb::array as_ndarray(pb::handle obj, const char* name) {
    if (obj.is_none()) type_error(std::string("argument '") + name + "': expected an array, got None");
    if (pb::isinstance<pb::array>(obj)) return pb::reinterpret_borrow<pb::array>(obj);
    pb::module_ np = numpy();
    try {
        if (!pb::hasattr(obj, "__array__") && pb::hasattr(obj, "__dlpack__"))
            return np.attr("from_dlpack")(obj).cast<pb::array>();
        return np.attr("asarray")(obj).cast<pb::array>();
    } catch (pb::error_already_set& e) {
        type_error(std::string("argument '") + name + "': cannot be read as an array (" +
                   pb::str(obj.get_type().attr("__name__")).cast<std::string>() + "): " + e.what());
    }
}

bool all_finite(const float* p, int64_t n) {
    uint32_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        std::memcpy(&u, p + i, 4);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return bad == 0;
}

}  // namespace

int64_t FloatIn::size() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
}

std::string describe_array(pb::handle obj) {
    if (pb::isinstance<pb::array>(obj)) {
        pb::array a = pb::reinterpret_borrow<pb::array>(obj);
        return "dtype " + pb::str(a.dtype()).cast<std::string>() + " with shape " + shape_text(a);
    }
    return pb::str(obj.get_type().attr("__name__")).cast<std::string>();
}

FloatIn float_input(pb::handle obj, const char* name, int ndim, int64_t last_dim, bool allow_1d_row) {
    pb::array a = as_ndarray(obj, name);
    const char kind = a.dtype().kind();
    if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
        type_error(std::string("argument '") + name + "': expected a real-valued (float32) array, got " +
                   describe_array(a));
    if (allow_1d_row && a.ndim() == 1 && ndim == 2) a = a.attr("reshape")(1, -1).cast<pb::array>();
    if ((ndim >= 0 && a.ndim() != ndim) || (last_dim >= 0 && (a.ndim() == 0 || a.shape(a.ndim() - 1) != last_dim)))
        value_error(std::string("argument '") + name + "': expected " + dims_text(ndim < 0 ? 2 : ndim, last_dim) +
                    ", got " + describe_array(a));
    FloatIn in;
    const bool exact = a.dtype().is(pb::dtype::of<float>()) && (a.flags() & pb::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) &&
                       (a.flags() & pb::detail::npy_api::NPY_ARRAY_ALIGNED_);
    if (exact) {
        in.arr = pb::reinterpret_borrow<FloatArray>(a);
    } else {
        in.arr = numpy().attr("ascontiguousarray")(a, "float32").cast<FloatArray>();
        in.copied = true;
    }
    g_last_copied = in.copied;
    in.data = in.arr.data();
    for (pb::ssize_t i = 0; i < in.arr.ndim(); i++) in.shape.push_back((int64_t)in.arr.shape(i));
    if (!all_finite(in.data, in.size())) {
        int64_t at = 0;
        while (at < in.size() && std::isfinite(in.data[at])) at++;
        const int64_t w = in.shape.empty() ? 1 : in.shape.back();
        value_error(strformat("argument '%s': holds NaN or Inf (first at row %lld, column %lld: %g)", name,
                              (long long)(w ? at / w : 0), (long long)(w ? at % w : 0), (double)in.data[at]));
    }
    return in;
}

IdsIn ids_input(pb::handle obj, const char* name) {
    pb::array a = as_ndarray(obj, name);
    const char kind = a.dtype().kind();
    if (kind != 'i' && kind != 'u')
        type_error(std::string("argument '") + name + "': expected integer token ids, got " + describe_array(a));
    IdsIn in;
    if (a.size() > 0) {
        const int64_t lo = a.attr("min")().cast<int64_t>();
        const pb::object hi_o = a.attr("max")();
        if (lo < 0) value_error(strformat("argument '%s': token id %lld is negative", name, (long long)lo));
        if (hi_o.cast<pb::int_>() > pb::int_(INT32_MAX))
            value_error(std::string("argument '") + name + "': token id " + pb::str(hi_o).cast<std::string>() +
                        " does not fit int32");
    }
    if (a.dtype().is(pb::dtype::of<int32_t>()) && (a.flags() & pb::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_))
        in.arr = pb::reinterpret_borrow<IntArray>(a);
    else
        in.arr = numpy().attr("ascontiguousarray")(a, "int32").cast<IntArray>();
    in.data = in.arr.data();
    for (pb::ssize_t i = 0; i < in.arr.ndim(); i++) in.shape.push_back((int64_t)in.arr.shape(i));
    return in;
}

bool last_input_copied() { return g_last_copied; }

FloatArray new_float_array(const std::vector<int64_t>& shape) {
    std::vector<pb::ssize_t> s(shape.begin(), shape.end());
    return FloatArray(s);
}

pb::array_t<int32_t> new_int_array(const std::vector<int64_t>& shape) {
    std::vector<pb::ssize_t> s(shape.begin(), shape.end());
    return pb::array_t<int32_t>(s);
}

FloatArray view_of(float* data, const std::vector<int64_t>& shape, pb::handle owner) {
    std::vector<pb::ssize_t> s(shape.begin(), shape.end()), st(shape.size());
    pb::ssize_t stride = sizeof(float);
    for (size_t i = shape.size(); i-- > 0;) {
        st[i] = stride;
        stride *= s[i];
    }
    return FloatArray(s, st, data, owner);
}

FloatArray copy_of(const float* data, const std::vector<int64_t>& shape) {
    FloatArray a = new_float_array(shape);
    int64_t n = 1;
    for (int64_t x : shape) n *= x;
    if (n) std::memcpy(a.mutable_data(), data, (size_t)n * sizeof(float));
    return a;
}

FloatArray tensor_array(const Tensor& t) { return copy_of(t.ptr(), t.shape); }

pb::object to_py(const Json& j) {
    switch (j.type) {
        case Json::NUL: return pb::none();
        case Json::BOOL: return pb::bool_(j.b);
        case Json::NUM:
            if (j.rep == Json::INT) return pb::int_(j.ival);
            if (j.rep == Json::UINT) return pb::int_(j.uval);
            return pb::float_(j.num);
        case Json::STR: {
            PyObject* s = PyUnicode_DecodeUTF8(j.str.data(), (pb::ssize_t)j.str.size(), "surrogateescape");
            if (!s) throw pb::error_already_set();
            return pb::reinterpret_steal<pb::object>(s);
        }
        case Json::ARR: {
            pb::list l;
            for (const Json& e : j.arr) l.append(to_py(e));
            return l;
        }
        case Json::OBJ: {
            pb::dict d;
            for (const auto& [k, v] : j.obj) d[pb::str(k)] = to_py(v);
            return d;
        }
    }
    return pb::none();
}

Json from_py(pb::handle o, const std::string& ctx) {
    if (o.is_none()) return Json();
    if (pb::isinstance<pb::bool_>(o)) return Json(o.cast<bool>());
    if (pb::isinstance<pb::int_>(o)) return Json(o.cast<int64_t>());
    if (pb::isinstance<pb::float_>(o)) return Json(o.cast<double>());
    if (pb::isinstance<pb::str>(o)) return Json(o.cast<std::string>());
    if (pb::isinstance<pb::dict>(o)) {
        Json j = Json::object();
        for (auto kv : pb::reinterpret_borrow<pb::dict>(o)) j[pb::str(kv.first).cast<std::string>()] = from_py(kv.second, ctx);
        return j;
    }
    if (pb::isinstance<pb::list>(o) || pb::isinstance<pb::tuple>(o)) {
        Json j = Json::array();
        for (auto e : o) j.push(from_py(e, ctx));
        return j;
    }
    type_error(ctx + ": a " + pb::str(o.get_type().attr("__name__")).cast<std::string>() + " cannot be stored as JSON");
}

// ---- the context of a call ----------------------------------------------------------------------------------

namespace {

// A Python error raised inside a callback, parked until the call unwinds back to Python.
struct Pending {
    std::atomic<bool> set{false};
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    void park() {  // GIL held, an error set
        if (set.exchange(true)) {
            PyErr_Clear();
            return;
        }
        PyErr_Fetch(&type, &value, &tb);
    }
    ~Pending() {
        if (type || value || tb) {
            pb::gil_scoped_acquire g;
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(tb);
        }
    }
};

thread_local std::shared_ptr<Pending> t_pending;  // of the call running on this thread

}  // namespace

Context make_context(pb::object progress, int threads) {
    if (threads < 0) value_error("threads must be >= 0 (0 = all cores)");
    Context c;
    c.threads = threads > 0 ? threads : hardware_threads();  // as the CLI: 0 = all cores
    auto pending = std::make_shared<Pending>();
    t_pending = pending;
    const bool bar = pb::isinstance<pb::bool_>(progress) && progress.cast<bool>();
    if (!bar) {
        if (!progress.is_none() && !(pb::isinstance<pb::bool_>(progress)) && !PyCallable_Check(progress.ptr()))
            type_error("progress: expected None, True or a callable taking one dict, got " +
                       pb::str(progress.get_type().attr("__name__")).cast<std::string>());
        c.quiet = true;
        c.log = [pending](LogLevel level, const std::string& text) {
            if (level != LogLevel::WARN) return;
            pb::gil_scoped_acquire g;
            if (PyErr_WarnEx(PyExc_RuntimeWarning, text.c_str(), 1) < 0) pending->park();
        };
        if (PyCallable_Check(progress.ptr())) {
            c.quiet = false;
            // the callable is released under the GIL whenever the last copy of the Context goes
            std::shared_ptr<pb::object> fn(new pb::object(progress), [](pb::object* o) {
                pb::gil_scoped_acquire g;
                delete o;
            });
            c.progress = [fn, pending](const ProgressEvent& e) {
                pb::gil_scoped_acquire g;
                if (pending->set) return;
                try {
                    pb::dict d;
                    d["label"] = e.label;
                    d["unit"] = e.unit;
                    d["done"] = e.done;
                    d["total"] = e.total;
                    d["elapsed_s"] = e.elapsed_s;
                    d["extra"] = e.extra;
                    d["finished"] = e.finished;
                    (*fn)(d);
                } catch (pb::error_already_set& err) {
                    err.restore();
                    pending->park();
                }
            };
        }
    }
    c.should_stop = [pending] {
        if (pending->set) return true;
        pb::gil_scoped_acquire g;
        if (PyErr_CheckSignals() != 0) {
            pending->park();
            return true;
        }
        return false;
    };
    return c;
}

namespace {

// Sets the parked callback error as the current Python error (and forgets it); false when none is parked.
bool restore_pending() {
    if (!t_pending || !t_pending->set) return false;
    auto p = t_pending;
    t_pending.reset();
    PyErr_Restore(p->type, p->value, p->tb);
    p->type = p->value = p->tb = nullptr;
    return true;
}

}  // namespace

void rethrow_pending() {
    if (restore_pending()) throw pb::error_already_set();
}

// ---- errors -------------------------------------------------------------------------------------------------

void type_error(const std::string& msg) { throw pb::type_error(msg); }
void value_error(const std::string& msg) { throw pb::value_error(msg); }

void register_errors(pb::module_& m) {
    g_unfold_error = PyErr_NewExceptionWithDoc(
        "unfold.UnfoldError",
        "unfold refused the input or the call: the message is unfold's one line (naming the file, field and "
        "what was expected).",
        PyExc_RuntimeError, nullptr);
    m.attr("UnfoldError") = pb::handle(g_unfold_error);
    pb::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const Cancelled& e) {  // a callback's parked error is what stopped the call, if any
            if (!restore_pending()) PyErr_SetString(PyExc_KeyboardInterrupt, e.what());
        } catch (const Error& e) {  // a callback's error may have made the call fail another way
            if (!restore_pending()) PyErr_SetString(g_unfold_error, e.what());
        }
    });
}

}  // namespace unfold::py
