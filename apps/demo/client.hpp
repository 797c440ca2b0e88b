// The demo's own client: a thread of this process that, through Linux's
// TCP/IP and the TAP interface (a real peer, as curl would be), keeps
// fetching the web page (a file in rlfs) and storing and reading back values, and counts
// every answer that is wrong or missing.  Bounded waits: a request that
// gets no answer in 10 s counts as failed.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace rl::demo {

class Client {
 public:
  Client(std::string ip, uint16_t http_port, uint16_t kv_port) : ip_(std::move(ip)), http_(http_port), kv_(kv_port) {}
  ~Client() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }
  // Asks the thread to finish its current request and end; the server
  // must keep serving until finished(), or that request fails.
  void request_stop() { stop_ = true; }
  bool finished() const { return finished_; }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint64_t ok() const { return ok_; }
  uint64_t failed() const { return failed_; }

 private:
  static constexpr int kRequestsPerConnection = 20;   // new connections too, not only keep-alive ones
  // In the demo's page, which lives in rlfs: rl-httpd's built-in page
  // (served when the root is missing) must not pass for it.
  static constexpr const char* kPageMark = "It is a file of rlfs";

  void loop() {
    uint64_t n = 0;
    while (!stop_) {
      int web = connect_to(http_), kv = connect_to(kv_);
      for (int i = 0; i < kRequestsPerConnection && !stop_; ++i, ++n) {
        count(web >= 0 && get_page(web));
        count(kv >= 0 && set_and_get(kv, n));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (web >= 0) close(web);
      if (kv >= 0) close(kv);
    }
    finished_ = true;
  }
  void count(bool good) { (good ? ok_ : failed_)++; }

  int connect_to(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip_.c_str(), &a.sin_addr);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  static bool send_all(int fd, const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      ssize_t w = write(fd, s.data() + off, s.size() - off);
      if (w <= 0) return false;
      off += static_cast<std::size_t>(w);
    }
    return true;
  }
  // Reads until `done(buffer)` says the answer is complete.
  template <class Done>
  static bool read_until(int fd, std::string& got, Done&& done) {
    char buf[4096];
    while (!done(got)) {
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) return false;
      got.append(buf, static_cast<std::size_t>(r));
    }
    return true;
  }
  static bool get_page(int fd) {
    if (!send_all(fd, "GET / HTTP/1.1\r\nHost: demo\r\n\r\n")) return false;
    std::string got;
    std::size_t body = 0, header_end = 0;
    bool ok = read_until(fd, got, [&](const std::string& g) {
      header_end = g.find("\r\n\r\n");
      if (header_end == std::string::npos) return false;
      auto cl = g.find("Content-Length: ");
      if (cl == std::string::npos) return true;
      body = std::stoul(g.substr(cl + 16));
      return g.size() >= header_end + 4 + body;
    });
    return ok && got.rfind("HTTP/1.1 200 ", 0) == 0 && got.find(kPageMark) != std::string::npos;
  }
  static bool set_and_get(int fd, uint64_t n) {
    const std::string key = "demo:" + std::to_string(n % 1000), value = "value " + std::to_string(n);
    if (!send_all(fd, "set " + key + " 0 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\nget " + key + "\r\n"))
      return false;
    std::string got;
    bool ok = read_until(fd, got, [](const std::string& g) { return g.find("END\r\n") != std::string::npos; });
    return ok && got == "STORED\r\nVALUE " + key + " 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\nEND\r\n";
  }

  std::string ip_;
  uint16_t http_, kv_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, finished_{false};
  std::atomic<uint64_t> ok_{0}, failed_{0};
};

}  // namespace rl::demo
