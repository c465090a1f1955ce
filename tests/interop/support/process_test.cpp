// ChildProcess, free_port, find_program, wait_until: the harness every interop test stands on.
#include "process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace referkit::interop {
namespace {

using namespace std::chrono_literals;

bool is_zombie(int pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

TEST(ChildProcess, CapturesStdoutAndStderrAndExitCode) {
    auto child = ChildProcess::spawn({"sh", "-c", "echo out; echo err >&2; exit 7"});
    ASSERT_TRUE(child) << child.error();
    EXPECT_EQ(child->wait_for(5s), 7);
    EXPECT_FALSE(child->running());
    EXPECT_NE(child->output().find("out\n"), std::string::npos);
    EXPECT_NE(child->output().find("err\n"), std::string::npos);
    EXPECT_EQ(child->wait_for(0ms), 7);  // stable after exit
}

TEST(ChildProcess, WaitForTimesOutThenTerminateReportsSignal) {
    auto child = ChildProcess::spawn({"sleep", "30"});
    ASSERT_TRUE(child) << child.error();
    EXPECT_TRUE(child->running());
    EXPECT_EQ(child->wait_for(20ms), std::nullopt);
    child->terminate();
    EXPECT_FALSE(child->running());
    EXPECT_EQ(child->wait_for(0ms), 128 + SIGTERM);
}

TEST(ChildProcess, TerminateEscalatesToSigkill) {
    // The shell ignores TERM; only the SIGKILL after the grace period ends it.
    auto child = ChildProcess::spawn({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"});
    ASSERT_TRUE(child) << child.error();
    ASSERT_TRUE(wait_until([&] { return child->output().find("ready") != std::string::npos; }, 5s));
    child->terminate();
    EXPECT_EQ(child->wait_for(0ms), 128 + SIGKILL);
}

TEST(ChildProcess, TerminateKillsTheWholeProcessGroup) {
    auto child = ChildProcess::spawn({"sh", "-c", "sleep 30 & echo $!; wait"});
    ASSERT_TRUE(child) << child.error();
    ASSERT_TRUE(wait_until([&] { return child->output().find('\n') != std::string::npos; }, 5s));
    const int grandchild = std::stoi(child->output());
    EXPECT_EQ(::getpgid(grandchild), child->pid());
    child->terminate();
    // The grandchild is not ours to reap: once killed it is a zombie until init reaps it.
    EXPECT_TRUE(wait_until([&] { return ::kill(grandchild, 0) != 0 || is_zombie(grandchild); }, 5s));
}

TEST(ChildProcess, DestructorStopsTheChild) {
    int pid = -1;
    {
        auto child = ChildProcess::spawn({"sleep", "30"});
        ASSERT_TRUE(child) << child.error();
        pid = child->pid();
        EXPECT_EQ(::kill(pid, 0), 0);
    }
    EXPECT_NE(::kill(pid, 0), 0);  // reaped: the pid no longer exists
}

TEST(ChildProcess, MoveTransfersOwnership) {
    auto child = ChildProcess::spawn({"sh", "-c", "exit 3"});
    ASSERT_TRUE(child) << child.error();
    ChildProcess moved = std::move(*child);
    EXPECT_EQ(child->pid(), -1);
    EXPECT_EQ(child->wait_for(0ms), std::nullopt);
    EXPECT_EQ(moved.wait_for(5s), 3);
}

TEST(ChildProcess, EnvironmentCwdAndLogFile) {
    const auto dir = std::filesystem::temp_directory_path() / ("referkit-proc-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string log = (dir / "child.log").string();
    auto child = ChildProcess::spawn({"sh", "-c", "echo \"$REFERKIT_X $HOME\"; pwd"},
                                     {.cwd = dir.string(), .log_file = log, .env = {"REFERKIT_X=42", "HOME=/nowhere"}});
    ASSERT_TRUE(child) << child.error();
    EXPECT_EQ(child->wait_for(5s), 0);
    EXPECT_EQ(child->log_path(), log);
    EXPECT_EQ(child->output(), "42 /nowhere\n" + std::filesystem::canonical(dir).string() + "\n");
    std::filesystem::remove_all(dir);
}

TEST(ChildProcess, NoDescriptorLeaksIntoTheChild) {
    // A descriptor opened without O_CLOEXEC, at a number the child would not open by itself.
    int fd = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::dup2(fd, 57), 57);
    ::close(fd);
    auto child = ChildProcess::spawn({"sh", "-c", "[ -e /proc/self/fd/57 ] && echo leaked || echo clean"});
    ::close(57);
    ASSERT_TRUE(child) << child.error();
    EXPECT_EQ(child->wait_for(5s), 0);
    EXPECT_EQ(child->output(), "clean\n");
}

TEST(ChildProcess, SpawnFailureIsAnError) {
    auto missing = ChildProcess::spawn({"referkit-no-such-program-xyz"});
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().find("referkit-no-such-program-xyz"), std::string::npos);
    EXPECT_FALSE(ChildProcess::spawn({}));
    EXPECT_FALSE(ChildProcess::spawn({"true"}, {.log_file = "/nonexistent-dir/x.log"}));
}

TEST(FreePort, IsBindableForUdpAndTcp) {
    const std::uint16_t port = free_port();
    ASSERT_NE(port, 0);
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
        int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
        ASSERT_GE(fd, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "type " << type;
        ::close(fd);
    }
    EXPECT_EQ(free_port("not-an-address"), 0);
}

TEST(FindProgram, FindsShAndRejectsMissing) {
    auto sh = find_program("sh");
    ASSERT_TRUE(sh);
    EXPECT_EQ(sh->front(), '/');
    EXPECT_EQ(find_program("referkit-no-such-program-xyz"), std::nullopt);
    EXPECT_EQ(find_program(*sh), sh);
}

TEST(WaitUntil, ReturnsTrueAsSoonAsThePredicateHoldsAndFalseAtTheBound) {
    int calls = 0;
    EXPECT_TRUE(wait_until([&] { return ++calls >= 3; }, 5s));
    EXPECT_EQ(calls, 3);
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(wait_until([] { return false; }, 30ms));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
}

}  // namespace
}  // namespace referkit::interop
