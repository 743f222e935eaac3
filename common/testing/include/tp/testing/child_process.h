// A child process for tests that must keep running while the test acts on it (unlike
// tp::testing::RunProcess, which waits for the end): its stdout is read line by line
// on a thread, its stderr goes to a file, and the destructor SIGKILLs and reaps it, so
// a failing test never leaves a writer behind.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace tp::testing {

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, std::filesystem::path stderr_file)
      : stderr_file_(std::move(stderr_file)) {
    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    std::vector<char*> args;
    for (const auto& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      const int err_fd =
          ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      ::dup2(out_pipe[1], 1);
      if (err_fd >= 0)
        ::dup2(err_fd, 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    reader_ = std::thread([this, fd = out_pipe[0]] { ReadLines(fd); });
  }

  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  ~ChildProcess() {
    if (!reaped_)
      KillAndWait();
  }

  pid_t pid() const { return pid_; }

  // Complete lines written so far.
  std::vector<std::string> Lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }

  // Waits until at least `n` lines arrived, stdout closed, or `timeout` passed.
  // Returns the number of lines.
  size_t WaitForLines(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return lines_.size() >= n || eof_; });
    return lines_.size();
  }

  // True if the child already exited (it is then reaped; see status()).
  bool Exited() {
    if (reaped_)
      return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      Reaped(status);
      return true;
    }
    return false;
  }

  // SIGKILLs the child (unless it already exited), reaps it and reads stdout to the end.
  // Returns the wait status.
  int KillAndWait() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      Reaped(status);
    }
    if (reader_.joinable())
      reader_.join();
    return status_;
  }

  // SIGTERMs the child and waits up to `grace` for it to exit, then SIGKILLs it.
  // Returns the wait status.
  int TerminateAndWait(std::chrono::milliseconds grace) {
    if (!reaped_) {
      ::kill(pid_, SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + grace;
      while (!Exited() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    return KillAndWait();
  }

  // Waits for the child to exit by itself; returns the wait status.
  int Wait() {
    if (!reaped_) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
      Reaped(status);
    }
    if (reader_.joinable())
      reader_.join();
    return status_;
  }

  int status() const { return status_; }

  std::string Stderr() const {
    std::ifstream in(stderr_file_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

 private:
  void Reaped(int status) {
    reaped_ = true;
    status_ = status;
  }

  void ReadLines(int fd) {
    std::string partial;
    std::array<char, 4096> buf{};
    for (;;) {
      const ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n <= 0)
        break;
      partial.append(buf.data(), static_cast<size_t>(n));
      size_t start = 0;
      std::vector<std::string> complete;
      for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos;
           start = nl + 1) {
        complete.push_back(partial.substr(start, nl - start));
      }
      partial.erase(0, start);
      if (!complete.empty()) {
        std::lock_guard lock(mu_);
        lines_.insert(lines_.end(), complete.begin(), complete.end());
        cv_.notify_all();
      }
    }
    ::close(fd);
    std::lock_guard lock(mu_);
    eof_ = true;  // a torn last line (no newline) is dropped: it was never acked
    cv_.notify_all();
  }

  std::filesystem::path stderr_file_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::thread reader_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::string> lines_;  // REQUIRES: mu_ held
  bool eof_ = false;                // REQUIRES: mu_ held
};

}  // namespace tp::testing
