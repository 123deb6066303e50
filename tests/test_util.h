// test_util.h: helpers every module's tests share.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace unfold_test {

// Runs fn, expects an unfold::Error, returns its message ("" and a test failure if none was thrown).
template <class F>
std::string error_of(F&& fn) {
    try {
        fn();
    } catch (const unfold::Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected unfold::Error, nothing was thrown";
    return "";
}

}  // namespace unfold_test
