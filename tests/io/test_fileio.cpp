// test_fileio.cpp: whole-file reads, atomic writes (commit, abandon, failure), folders and memory maps.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "io_test_util.h"
#include "unfold/io/fileio.h"

using namespace unfold;
using unfold_test::TempDir;
using unfold_test::write_raw;

TEST(FileIo, ReadFileAndErrors) {
    TempDir dir;
    std::string p = dir.file("a.bin");
    std::string bytes("ab\0cd\xff", 6);
    write_raw(p, bytes);
    EXPECT_EQ(read_file(p), bytes);
    EXPECT_EQ(file_size(p), 6u);
    EXPECT_TRUE(file_exists(p));
    EXPECT_FALSE(is_directory(p));
    EXPECT_FILE_ERROR(read_file(dir.file("missing")), "missing", "cannot open");
    EXPECT_FILE_ERROR(file_size(dir.file("missing")), "missing", "cannot stat");
}

TEST(FileIo, AtomicWriteCommitReplaces) {
    TempDir dir;
    std::string p = dir.file("out.txt");
    write_file_atomic(p, std::string("first version, long"));
    write_file_atomic(p, std::string("second"));
    EXPECT_EQ(read_file(p), "second");  // fully replaced, not overwritten in place
    EXPECT_EQ(dir.count(), 1u);
    {
        AtomicFile f(p);
        f.write("third");
        EXPECT_EQ(read_file(p), "second");  // the target is untouched until commit
        EXPECT_EQ(dir.count(), 2u);         // the temporary exists meanwhile
        f.commit();
    }
    EXPECT_EQ(read_file(p), "third");
    EXPECT_EQ(dir.count(), 1u);
}

TEST(FileIo, UncommittedAtomicFileLeavesNothing) {
    TempDir dir;
    std::string p = dir.file("never.bin");
    {
        AtomicFile f(p);
        f.write("partial data");
        // destroyed without commit, e.g. by an exception half way through a checkpoint
    }
    EXPECT_FALSE(file_exists(p));
    EXPECT_EQ(dir.count(), 0u);
    // an existing target survives an abandoned rewrite unchanged
    write_file_atomic(p, std::string("old"));
    try {
        AtomicFile f(p);
        f.write("new but unfinished");
        throw Error("simulated failure");
    } catch (const Error&) {
    }
    EXPECT_EQ(read_file(p), "old");
    EXPECT_EQ(dir.count(), 1u);
}

TEST(FileIo, FailedWritesLeaveNoTemporary) {
    TempDir dir;
    // the folder does not exist: creating the temporary fails
    EXPECT_FILE_ERROR(write_file_atomic(dir.file("no/such/x.bin"), std::string("x")), "no/such/x.bin", "cannot create");
    EXPECT_EQ(dir.count(), 0u);
    // the target is a folder: the final rename fails; the temporary is removed
    make_dirs(dir.file("target"));
    EXPECT_FILE_ERROR(write_file_atomic(dir.file("target"), std::string("x")), "target", "cannot rename");
    EXPECT_EQ(list_dir(dir.path), std::vector<std::string>{"target"});
    EXPECT_TRUE(is_directory(dir.file("target")));
    rmdir(dir.file("target").c_str());
}

TEST(FileIo, FoldersAndListing) {
    TempDir dir;
    std::string nested = dir.file("a/b/c");
    make_dirs(nested);
    make_dirs(nested);  // idempotent
    EXPECT_TRUE(is_directory(nested));
    write_raw(dir.file("z.txt"), "z");
    write_raw(dir.file("m.txt"), "m");
    EXPECT_EQ(list_dir(dir.path), (std::vector<std::string>{"a", "m.txt", "z.txt"}));
    EXPECT_FILE_ERROR(make_dirs(dir.file("z.txt")), "z.txt", "not a folder");
    EXPECT_FILE_ERROR(list_dir(dir.file("nope")), "nope", "cannot list");
    EXPECT_EQ(path_join("a", "b"), "a/b");
    EXPECT_EQ(path_join("a/", "b"), "a/b");
    EXPECT_EQ(path_join("", "b"), "b");
    EXPECT_EQ(path_join("a", "/abs"), "/abs");
    rmdir(dir.file("a/b/c").c_str());
    rmdir(dir.file("a/b").c_str());
}

TEST(FileIo, MappedFile) {
    TempDir dir;
    std::string p = dir.file("m.bin");
    std::string bytes(10000, '\0');
    for (size_t i = 0; i < bytes.size(); i++) bytes[i] = (char)(i * 7);
    write_raw(p, bytes);
    {
        MappedFile m(p);
        ASSERT_EQ(m.size(), bytes.size());
        EXPECT_EQ(std::string((const char*)m.data(), m.size()), bytes);
        EXPECT_EQ(m.path(), p);
    }
    std::string e = dir.file("empty.bin");
    write_raw(e, "");
    MappedFile me(e);
    EXPECT_EQ(me.size(), 0u);
    EXPECT_FILE_ERROR(MappedFile m(dir.file("missing.bin")), "missing.bin", "cannot open");
    make_dirs(dir.file("d"));
    EXPECT_FILE_ERROR(MappedFile m(dir.file("d")), "d", "not a regular file");
    rmdir(dir.file("d").c_str());
}
