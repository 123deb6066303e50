// test_models_shipped.cpp: the real models in models/ are the published bytes (models/SHA256SUMS), so the
// golden-output tests compare against the model everybody else has.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

TEST(ModelsShipped, Sha256SumsMatch) {
    const std::string dir = std::string(UNFOLD_SOURCE_DIR) + "/models";
    const std::string cmd = "cd '" + dir + "' && sha256sum -c SHA256SUMS 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (fgets(buf, sizeof buf, p)) out += buf;
    int rc = pclose(p);
    EXPECT_EQ(rc, 0) << out;
    size_t ok = 0;
    for (size_t pos = 0; (pos = out.find(": OK", pos)) != std::string::npos; pos++) ok++;
    EXPECT_EQ(ok, 8u) << out;
}
