// rl-httpd's HTTP core: what a client sees for every request it can send,
// whatever way the bytes are split, and that no target reaches a file
// outside the document root.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "apps/httpd/files.hpp"
#include "apps/httpd/http.hpp"

namespace rl::httpd {
namespace {

// ------------------------------------------------------------ helpers

struct Parsed {
  ParseStatus status = ParseStatus::NeedMore;
  int error = 0;
  std::size_t consumed = 0;
  Request request;
};

void expect_same(const Parsed& a, const Parsed& b, const std::string& what) {
  EXPECT_EQ(a.status, b.status) << what;
  EXPECT_EQ(a.error, b.error) << what;
  EXPECT_EQ(a.consumed, b.consumed) << what;
  if (a.status != ParseStatus::Done || b.status != ParseStatus::Done) return;
  EXPECT_EQ(a.request.method, b.request.method) << what;
  EXPECT_EQ(a.request.target, b.request.target) << what;
  EXPECT_EQ(a.request.version_minor, b.request.version_minor) << what;
  EXPECT_EQ(a.request.keep_alive, b.request.keep_alive) << what;
  EXPECT_EQ(a.request.content_length, b.request.content_length) << what;
  EXPECT_EQ(a.request.body, b.request.body) << what;
  ASSERT_EQ(a.request.headers.size(), b.request.headers.size()) << what;
  for (std::size_t i = 0; i < a.request.headers.size(); ++i) {
    EXPECT_EQ(a.request.headers[i].name, b.request.headers[i].name) << what;
    EXPECT_EQ(a.request.headers[i].value, b.request.headers[i].value) << what;
  }
}

// Feeds `chunks` in order to one parser until it finishes.  A parser that
// says NeedMore must have taken every byte it was given: the server keeps no
// leftovers except after Done.
Parsed feed_chunks(const std::vector<std::string_view>& chunks, const Limits& limits) {
  RequestParser parser(limits);
  Parsed out;
  for (std::string_view chunk : chunks) {
    const FeedResult r = parser.feed(chunk);
    EXPECT_LE(r.consumed, chunk.size());
    out.consumed += r.consumed;
    out.status = r.status;
    if (r.status == ParseStatus::NeedMore) {
      EXPECT_EQ(r.consumed, chunk.size());
      continue;
    }
    break;
  }
  out.error = parser.error_status();
  out.request = parser.request();
  return out;
}

std::vector<std::string_view> bytes_of(std::string_view in) {
  std::vector<std::string_view> v;
  for (std::size_t i = 0; i < in.size(); ++i) v.push_back(in.substr(i, 1));
  return v;
}

// Parses `in` all at once, byte by byte and split in two at a few places,
// and checks all agree.
Parsed parse(std::string_view in, const Limits& limits = {}) {
  const Parsed whole = feed_chunks({in}, limits);
  expect_same(whole, feed_chunks(bytes_of(in), limits), "byte by byte: " + std::string(in.substr(0, 80)));
  for (std::size_t split : {std::size_t{1}, in.size() / 3, in.size() / 2, in.size() - 1})
    if (split < in.size())
      expect_same(whole, feed_chunks({in.substr(0, split), in.substr(split)}, limits),
                  "split at " + std::to_string(split));
  return whole;
}

int error_of(std::string_view in, const Limits& limits = {}) {
  const Parsed p = parse(in, limits);
  EXPECT_EQ(p.status, ParseStatus::Error) << in;
  return p.error;
}

const Request& must_parse(std::string_view in, Parsed& holder, const Limits& limits = {}) {
  holder = parse(in, limits);
  EXPECT_EQ(holder.status, ParseStatus::Done) << "error " << holder.error << " for " << in;
  EXPECT_EQ(holder.consumed, in.size()) << in;
  return holder.request;
}

// The value of a header field in a response head, or "<none>".
std::string field(const std::string& head, std::string_view name) {
  const std::string key = "\r\n" + std::string(name) + ": ";
  std::size_t at = head.find(key);
  if (at == std::string::npos) return "<none>";
  at += key.size();
  return head.substr(at, head.find("\r\n", at) - at);
}

// ------------------------------------------------------------ parsing

TEST(HttpParser, ParsesAGetWithItsHeaders) {
  Parsed p;
  const Request& r = must_parse(
      "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent:   curl/8.0 \t\r\n"
      "ACCEPT:*/*\r\nX-Empty:\r\nX-Inner: a  b\xe9\r\n\r\n",
      p);
  EXPECT_EQ(r.method, Method::Get);
  EXPECT_EQ(r.target, "/index.html?x=1");
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.content_length, 0u);
  ASSERT_EQ(r.headers.size(), 5u);
  EXPECT_EQ(r.headers[0].name, "host");
  EXPECT_EQ(r.headers[1].name, "user-agent");
  EXPECT_EQ(r.headers[1].value, "curl/8.0") << "leading and trailing whitespace is not part of a value";
  EXPECT_EQ(r.headers[2].name, "accept");
  EXPECT_EQ(r.headers[2].value, "*/*");
  EXPECT_EQ(r.headers[3].value, "");
  EXPECT_EQ(r.headers[4].value, "a  b\xe9") << "inner whitespace and obs-text are kept";
  ASSERT_NE(r.header("Accept"), nullptr);
  EXPECT_EQ(*r.header("Accept"), "*/*");
  EXPECT_EQ(r.header("cookie"), nullptr);
}

TEST(HttpParser, RecognizesEveryMethodItKnowsCaseSensitively) {
  const std::pair<const char*, Method> methods[] = {
      {"GET", Method::Get},         {"HEAD", Method::Head},   {"POST", Method::Post},
      {"PUT", Method::Put},         {"DELETE", Method::Delete}, {"OPTIONS", Method::Options},
      {"PATCH", Method::Patch},     {"TRACE", Method::Trace}, {"CONNECT", Method::Connect},
      {"get", Method::Other},       {"BREW", Method::Other},  {"GETS", Method::Other},
      {"VERSION-CONTROL", Method::Other},
  };
  for (const auto& [token, method] : methods) {
    Parsed p;
    const Request& r = must_parse(std::string(token) + " / HTTP/1.1\r\nHost: a\r\n\r\n", p);
    EXPECT_EQ(r.method, method) << token;
  }
}

TEST(HttpParser, AcceptsBareLfLineEndingsAndSkipsEmptyLinesFirst) {
  Parsed p;
  const Request& r = must_parse("\r\n\nGET /a HTTP/1.1\nHost: a\nX: y\r\n\n", p);
  EXPECT_EQ(r.target, "/a");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[1].value, "y");
}

TEST(HttpParser, KeepAliveFollowsTheVersionAndConnection) {
  struct Case {
    const char* request;
    bool keep_alive;
  } cases[] = {
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alives\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    Parsed p;
    EXPECT_EQ(must_parse(c.request, p).keep_alive, c.keep_alive) << c.request;
  }
}

TEST(HttpParser, HttpOneDotTwoIsReadAsOneDotOne) {  // RFC 9110 2.5
  Parsed p;
  EXPECT_EQ(must_parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n", p).version_minor, 1);
  EXPECT_EQ(must_parse("GET / HTTP/1.0\r\n\r\n", p).version_minor, 0);
}

TEST(HttpParser, ReadsExactlyContentLengthBytesOfBody) {
  Parsed p;
  const std::string request = "POST /f HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET";
  p = parse(request);
  ASSERT_EQ(p.status, ParseStatus::Done);
  EXPECT_EQ(p.request.body, "hello");
  EXPECT_EQ(p.consumed, request.size() - 3) << "the next request's bytes are left alone";
  EXPECT_EQ(must_parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", p).body, "hello");
  EXPECT_EQ(must_parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\ncontent-length: 003\r\n\r\nabc", p).body,
            "abc");
  EXPECT_EQ(must_parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", p).body, "");
}

TEST(HttpParser, StopsAtDoneUntilResetAndStaysInError) {
  RequestParser parser;
  const std::string two = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n";
  FeedResult r = parser.feed(two);
  ASSERT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(parser.feed(std::string_view(two).substr(r.consumed)).consumed, 0u);
  EXPECT_EQ(parser.request().target, "/1");
  parser.reset();
  EXPECT_EQ(parser.feed(std::string_view(two).substr(r.consumed)).status, ParseStatus::Done);
  EXPECT_EQ(parser.request().target, "/2");
  EXPECT_EQ(parser.request().headers.size(), 1u) << "reset forgets the previous request's fields";

  parser.reset();
  EXPECT_EQ(parser.feed("GET / HTTP/3.0\r\n").status, ParseStatus::Error);
  EXPECT_EQ(parser.error_status(), 505);
  EXPECT_FALSE(parser.request().keep_alive) << "after a parse error the connection closes";
  r = parser.feed("Host: a\r\n\r\n");
  EXPECT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.consumed, 0u);
  parser.reset();
  EXPECT_EQ(parser.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::Done);
}

TEST(HttpParser, MalformedRequestsAre400) {
  using namespace std::string_literals;
  const std::string cases[] = {
      "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",            // two spaces
      "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",            // trailing space
      " GET / HTTP/1.1\r\nHost: a\r\n\r\n",            // leading space
      "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",            // tab separator
      "G@T / HTTP/1.1\r\nHost: a\r\n\r\n",             // not a token
      "GET /\r\n\r\n",                                 // HTTP/0.9
      "GET / \r\n\r\n",                                // no version
      "GET / http/1.1\r\nHost: a\r\n\r\n",             // the version name is case-sensitive
      "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.\r\nHost: a\r\n\r\n",
      "GET / HTTP/11\r\nHost: a\r\n\r\n",
      "GET / HTTP/1.1/\r\nHost: a\r\n\r\n",
      "GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n",      // control byte in the target
      "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",    // raw UTF-8 in the target
      "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",           // bare CR before the request line
      "GET / HTTP/1.1\rHost: a\r\n\r\n",               // bare CR ending the request line
      "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",       // bare CR in a value
      "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n",          // bare CR ending the section
      "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",   // obs-fold
      "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n",  // obs-fold with a tab
      "GET / HTTP/1.1\r\n Host: a\r\n\r\n",            // whitespace before the first field
      "GET / HTTP/1.1\r\nHost : a\r\n\r\n",            // whitespace before the colon
      "GET / HTTP/1.1\r\nHost a\r\n\r\n",              // no colon
      "GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n",      // empty name
      "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n",            // not a token
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s,  // NUL in a value
      "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",                        // 1.1 without Host
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
      "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n",
  };
  for (const std::string& request : cases) EXPECT_EQ(error_of(request), 400) << request;
}

TEST(HttpParser, BadContentLengthIs400AndTooLargeIs413) {
  const auto with_length = [](const std::string& fields) {
    return "POST / HTTP/1.1\r\nHost: a\r\n" + fields + "\r\n";
  };
  for (const char* bad : {"Content-Length: abc\r\n", "Content-Length: -1\r\n", "Content-Length: +1\r\n",
                          "Content-Length: 1 2\r\n", "Content-Length:\r\n", "Content-Length: 0x10\r\n",
                          "Content-Length: 5, 6\r\n", "Content-Length: ,\r\n",
                          "Content-Length: 5\r\nContent-Length: 6\r\n"})
    EXPECT_EQ(error_of(with_length(bad)), 400) << bad;
  Limits limits;
  limits.max_body = 100;
  EXPECT_EQ(error_of(with_length("Content-Length: 101\r\n"), limits), 413);
  EXPECT_EQ(error_of(with_length("Content-Length: 99999999999999999999999999\r\n")), 413)
      << "a length past 64 bits is too large, not malformed";
}

TEST(HttpParser, TransferEncodingIsRefused) {
  const auto with = [](const std::string& version, const std::string& fields) {
    return "POST / HTTP/" + version + "\r\nHost: a\r\n" + fields + "\r\n";
  };
  // A chunked body we do not decode: ask for Content-Length.
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: chunked\r\n")), 411);
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: Chunked\r\n")), 411);
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: gzip, chunked\r\n")), 411);
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")), 411);
  // Framing that cannot be trusted (RFC 9112 6.1): 400.
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: gzip\r\n")), 400);
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: chunked, gzip\r\n")), 400);
  EXPECT_EQ(error_of(with("1.1", "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")), 400);
  EXPECT_EQ(error_of(with("1.1", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")), 400);
  EXPECT_EQ(error_of(with("1.0", "Transfer-Encoding: chunked\r\n")), 400);
}

TEST(HttpParser, UnsupportedVersionsAre505) {
  for (const char* v : {"HTTP/2.0", "HTTP/0.9", "HTTP/3.1", "HTTP/9.9"})
    EXPECT_EQ(error_of("GET / " + std::string(v) + "\r\nHost: a\r\n\r\n"), 505) << v;
}

// ------------------------------------------------------------ limits

std::string get_with_target_length(std::size_t length) { return "GET /" + std::string(length - 1, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n"; }

TEST(HttpLimits, TargetUpToTheLimitPassesOneMoreIs414) {
  Parsed p;
  EXPECT_EQ(must_parse(get_with_target_length(2048), p).target.size(), 2048u);
  EXPECT_EQ(error_of(get_with_target_length(2049)), 414);
}

TEST(HttpLimits, RequestLineUpToTheLimitPassesOneMoreFails) {
  Limits limits;
  limits.max_request_line = 40;
  const std::string line_of_40 = "GET /" + std::string(26, 'a') + " HTTP/1.1";
  ASSERT_EQ(line_of_40.size(), 40u);
  Parsed p;
  must_parse(line_of_40 + "\r\nHost: a\r\n\r\n", p, limits);
  const std::string line_of_41 = "GET /" + std::string(27, 'a') + " HTTP/1.1";
  EXPECT_EQ(error_of(line_of_41 + "\r\nHost: a\r\n\r\n", limits), 414);
  // A method longer than any we implement (RFC 9112 3).
  EXPECT_EQ(error_of(std::string(41, 'X') + " / HTTP/1.1\r\n", limits), 501);
}

// A request whose header section (field lines, line endings, the final empty
// line) is exactly `bytes` long.
std::string request_with_header_bytes(std::size_t bytes, const char* eol) {
  const std::string host = std::string("Host: a") + eol, end = eol;
  const std::string prefix = "X: ";
  const std::size_t filler = bytes - host.size() - end.size() - prefix.size() - std::strlen(eol);
  return std::string("GET / HTTP/1.1") + eol + host + prefix + std::string(filler, 'v') + eol + end;
}

TEST(HttpLimits, HeaderSectionUpToTheLimitPassesOneMoreIs431) {
  for (const char* eol : {"\r\n", "\n"}) {
    Parsed p;
    must_parse(request_with_header_bytes(16384, eol), p);
    EXPECT_EQ(error_of(request_with_header_bytes(16385, eol)), 431);
  }
}

TEST(HttpLimits, HeaderCountUpToTheLimitPassesOneMoreIs431) {
  const auto with_fields = [](int count) {
    std::string r = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (int i = 1; i < count; ++i) r += "X-" + std::to_string(i) + ": v\r\n";
    return r + "\r\n";
  };
  Parsed p;
  EXPECT_EQ(must_parse(with_fields(100), p).headers.size(), 100u);
  EXPECT_EQ(error_of(with_fields(101)), 431);
}

TEST(HttpLimits, BodyUpToTheLimitPassesOneMoreIs413) {
  const auto post = [](std::size_t length) {
    return "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n" +
           std::string(length, 'b');
  };
  Parsed p;
  EXPECT_EQ(must_parse(post(1 << 20), p).body.size(), std::size_t{1} << 20);
  EXPECT_EQ(error_of(post((1 << 20) + 1)), 413);
}

// An endless line is refused at the first byte over the limit, not at its
// end, and without buffering what comes after.
TEST(HttpLimits, EndlessLinesFailAsSoonAsTheyPassTheLimit) {
  const std::string megabyte(1 << 20, 'a');
  struct Case {
    std::string prefix;
    std::size_t fails_at;  // bytes consumed, including the first one over
    int status;
  } cases[] = {
      {"GET /", 4 + 2049, 414},
      {"", 8193, 501},
      {"GET / HTTP/1.1\r\nHost: a\r\nX: ", 16 + 16385, 431},
      {"GET / HTTP/1.1\r\nHost: a\r\nX", 16 + 16385, 431},
  };
  for (const Case& c : cases) {
    const std::string input = c.prefix + megabyte;
    const Parsed p = feed_chunks({input}, {});
    EXPECT_EQ(p.status, ParseStatus::Error) << c.prefix;
    EXPECT_EQ(p.error, c.status) << c.prefix;
    EXPECT_EQ(p.consumed, c.fails_at) << c.prefix;
    const Parsed bytewise = feed_chunks(bytes_of(input), {});
    EXPECT_EQ(bytewise.consumed, c.fails_at) << "byte by byte, the error comes with the first byte over";
    EXPECT_LE(p.request.target.size(), 2048u);
  }
}

// ------------------------------------------------------------ pipelining

const std::string kPipeline =
    "GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
    "POST /second HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
    "HEAD /third HTTP/1.0\nConnection: keep-alive\n\n";

void expect_pipeline(const std::vector<Request>& requests, const std::string& how) {
  ASSERT_EQ(requests.size(), 3u) << how;
  EXPECT_EQ(requests[0].target, "/first") << how;
  EXPECT_EQ(requests[1].method, Method::Post) << how;
  EXPECT_EQ(requests[1].body, "hello world") << how;
  EXPECT_EQ(requests[2].method, Method::Head) << how;
  EXPECT_EQ(requests[2].version_minor, 0) << how;
  EXPECT_TRUE(requests[2].keep_alive) << how;
}

// What a server loop does: hand over each arrival, take each Done, reset.
std::vector<Request> serve(const std::vector<std::string_view>& arrivals) {
  RequestParser parser;
  std::vector<Request> done;
  for (std::string_view in : arrivals) {
    while (!in.empty()) {
      const FeedResult r = parser.feed(in);
      in.remove_prefix(r.consumed);
      if (r.status == ParseStatus::NeedMore) break;
      if (r.status == ParseStatus::Error) return {};
      done.push_back(parser.request());
      parser.reset();
    }
    EXPECT_TRUE(in.empty()) << "NeedMore takes everything";
  }
  return done;
}

TEST(HttpPipelining, ThreeRequestsInOneBuffer) { expect_pipeline(serve({kPipeline}), "all at once"); }

TEST(HttpPipelining, ThreeRequestsByteByByte) { expect_pipeline(serve(bytes_of(kPipeline)), "byte by byte"); }

TEST(HttpPipelining, ThreeRequestsSplitAtEveryPairOfOffsets) {
  const std::string_view all = kPipeline;
  for (std::size_t a = 0; a <= all.size(); ++a)
    for (std::size_t b = a; b <= all.size(); ++b) {
      expect_pipeline(serve({all.substr(0, a), all.substr(a, b - a), all.substr(b)}),
                      "split at " + std::to_string(a) + " and " + std::to_string(b));
      if (HasFailure()) return;
    }
}

// ------------------------------------------------------------ responses

TEST(HttpResponse, HeadCarriesWhatClientsRelyOn) {
  EXPECT_EQ(response_head(200, "text/plain; charset=utf-8", 5, true, "Sun, 06 Nov 1994 08:49:37 GMT"),
            "HTTP/1.1 200 OK\r\nServer: rl-httpd\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n");
  const std::string closing = response_head(404, "text/html", 0, false, "");
  EXPECT_EQ(closing.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  EXPECT_EQ(field(closing, "Date"), "<none>");
  EXPECT_EQ(field(closing, "Connection"), "close");
  EXPECT_EQ(field(closing, "Allow"), "<none>");
  EXPECT_EQ(field(response_head(405, "text/html", 0, true, ""), "Allow"), "GET, HEAD");
}

TEST(HttpResponse, EveryStatusWeSendHasItsReasonAndPage) {
  const std::pair<int, const char*> statuses[] = {
      {200, "OK"}, {301, "Moved Permanently"}, {400, "Bad Request"}, {404, "Not Found"},
      {405, "Method Not Allowed"}, {408, "Request Timeout"}, {411, "Length Required"},
      {413, "Content Too Large"}, {414, "URI Too Long"}, {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {501, "Not Implemented"}, {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
  };
  for (const auto& [code, reason] : statuses) {
    EXPECT_EQ(reason_phrase(code), reason);
    if (code == 200) continue;
    const Response r = error_response(code, false, false, "");
    const std::string named = std::to_string(code) + " " + reason;
    EXPECT_EQ(std::string(r.body), "<html><body><h1>" + named + "</h1></body></html>\n");
    EXPECT_EQ(r.head.rfind("HTTP/1.1 " + named + "\r\n", 0), 0u);
    EXPECT_EQ(field(r.head, "Content-Length"), std::to_string(r.body.size()));
    EXPECT_EQ(field(r.head, "Content-Type"), "text/html; charset=utf-8");
    const Response head_only = error_response(code, false, true, "");
    EXPECT_TRUE(head_only.body.empty());
    EXPECT_EQ(head_only.head, r.head) << "HEAD gets the same header section";
  }
  EXPECT_EQ(reason_phrase(299), "");
}

TEST(HttpResponse, DateIsImfFixdateAndFormattedOncePerSecond) {
  HttpDate date;
  EXPECT_EQ(date.at(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110's example
  const char* first = date.at(784111777).data();
  EXPECT_EQ(date.at(784111777).data(), first);
  EXPECT_EQ(date.at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(date.at(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

// ------------------------------------------------------------ targets

TEST(HttpTarget, DecodesAndNormalizes) {
  const struct {
    const char* target;
    const char* relative;
    bool directory;
    const char* query;
  } cases[] = {
      {"/", "", true, ""},
      {"/a.txt?x=1&y", "a.txt", false, "x=1&y"},
      {"/docs/", "docs", true, ""},
      {"//docs//./guide.txt", "docs/guide.txt", false, ""},
      {"/docs/.", "docs", true, ""},
      {"/hello%20world.txt", "hello world.txt", false, ""},
      {"/%61%2Fb", "a/b", false, ""},
      {"/a%2e%2eb", "a..b", false, ""},
      {"/caf%C3%A9", "caf\xc3\xa9", false, ""},
      {"http://example.com/a.txt?q", "a.txt", false, "q"},
      {"HTTPS://example.com", "", true, ""},
      {"http://example.com?q=1", "", true, "q=1"},
  };
  for (const auto& c : cases) {
    const TargetPath t = resolve_target(c.target);
    EXPECT_EQ(t.status, 200) << c.target;
    EXPECT_EQ(t.relative, c.relative) << c.target;
    EXPECT_EQ(t.directory, c.directory) << c.target;
    EXPECT_EQ(t.query, c.query) << c.target;
  }
}

TEST(HttpTarget, BadEscapesControlsAndDotDotAre400) {
  for (const char* target :
       {"/%", "/%4", "/a%4", "/%G1", "/%zz", "/%00", "/a%0a", "/a%7F", "/a#b", "*", "example.com:443", "a.txt",
        "/..", "/../etc/passwd", "/%2e%2e/", "/%2E%2E%2Fetc%2Fpasswd", "/a/../../", "/a/..", "/..%2f..%2fsecret.txt",
        "/.%2e/", "http://x/../y", ""})
    EXPECT_EQ(resolve_target(target).status, 400) << target;
}

// ------------------------------------------------------------ the file store

class TempRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/rl-httpd-test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    base_ = pattern;
    root_ = base_ + "/www";
    std::filesystem::create_directories(root_ + "/docs");
    std::filesystem::create_directories(root_ + "/empty");
    write("secret.txt", "TOP SECRET", base_);
    write("index.html", "<h1>home</h1>");
    write("a.txt", "alpha");
    write("docs/index.html", "<h1>docs</h1>");
    write("docs/guide.txt", "guide");
    write("hello world.txt", "spaced");
    std::filesystem::create_symlink("../secret.txt", root_ + "/link-out");
    std::filesystem::create_symlink(base_ + "/secret.txt", root_ + "/link-abs");
    std::filesystem::create_symlink("a.txt", root_ + "/link-in");
    std::filesystem::create_directory_symlink("..", root_ + "/up");
    std::filesystem::create_directory_symlink("docs", root_ + "/docs-link");
  }
  void TearDown() override { std::filesystem::remove_all(base_); }

  void write(const std::string& name, const std::string& content, const std::string& dir = "") {
    std::ofstream(dir.empty() ? root_ + "/" + name : dir + "/" + name, std::ios::binary | std::ios::trunc) << content;
  }

  FileStore store(std::size_t max_file_size = 8 << 20) {
    FileStoreOptions o;
    o.root = root_;
    o.max_file_size = max_file_size;
    o.log = [this](std::string_view line) { log_.emplace_back(line); };
    return FileStore(std::move(o));
  }

  static Response get(FileStore& files, const std::string& target, Method method = Method::Get,
                      std::int64_t now_ms = 0) {
    Request r;
    r.method = method;
    r.target = target;
    r.keep_alive = true;
    return respond(r, files, now_ms, "");
  }

  std::string base_, root_;
  std::vector<std::string> log_;
};

TEST_F(TempRoot, ServesAFileWithItsTypeAndLength) {
  FileStore files = store();
  const Response r = get(files, "/a.txt");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "alpha");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_NE(r.body_owner, nullptr);
  EXPECT_EQ(field(r.head, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(field(r.head, "Content-Length"), "5");
  EXPECT_EQ(field(r.head, "Server"), "rl-httpd");
  EXPECT_EQ(field(r.head, "Connection"), "keep-alive");
  EXPECT_EQ(get(files, "/a.txt?v=2#").status, 400) << "a fragment is never sent";
  EXPECT_EQ(get(files, "/a.txt?v=2").body, "alpha") << "the query is ignored";
  EXPECT_EQ(get(files, "/hello%20world.txt").body, "spaced");
  EXPECT_EQ(get(files, "/missing.txt").status, 404);
}

TEST_F(TempRoot, HeadHasNoBodyButTheSameContentLength) {
  FileStore files = store();
  for (const char* target : {"/a.txt", "/missing", "/", "/docs", "/%zz"}) {
    const Response g = get(files, target), h = get(files, target, Method::Head);
    EXPECT_EQ(h.status, g.status) << target;
    EXPECT_EQ(h.head, g.head) << target;
    EXPECT_FALSE(g.body.empty()) << target;
    EXPECT_TRUE(h.body.empty()) << target;
  }
  FileStore no_root;
  const Response h = get(no_root, "/", Method::Head);
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());
  EXPECT_EQ(field(h.head, "Content-Length"), std::to_string(get(no_root, "/").body.size()));
}

TEST_F(TempRoot, OtherMethodsAre405WithAllowAndUnknownOnes501) {
  FileStore files = store();
  for (Method m : {Method::Post, Method::Put, Method::Delete, Method::Patch, Method::Options, Method::Trace,
                   Method::Connect}) {
    const Response r = get(files, "/a.txt", m);
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(field(r.head, "Allow"), "GET, HEAD");
    EXPECT_TRUE(r.keep_alive) << "the request was well framed: the connection goes on";
  }
  const Response r = get(files, "/a.txt", Method::Other);
  EXPECT_EQ(r.status, 501);
  EXPECT_TRUE(r.keep_alive);
}

TEST_F(TempRoot, DirectoriesServeTheirIndexOrRedirectToTheSlash) {
  FileStore files = store();
  EXPECT_EQ(get(files, "/").body, "<h1>home</h1>");
  EXPECT_EQ(get(files, "/docs/").body, "<h1>docs</h1>");
  EXPECT_EQ(get(files, "/docs/index.html").body, "<h1>docs</h1>");
  const Response moved = get(files, "/docs?x=1");
  EXPECT_EQ(moved.status, 301);
  EXPECT_EQ(field(moved.head, "Location"), "/docs/?x=1");
  EXPECT_EQ(field(get(files, "/docs").head, "Location"), "/docs/");
  EXPECT_EQ(get(files, "/empty/").status, 404) << "no index.html and no listing";
  EXPECT_EQ(get(files, "/a.txt/").status, 404);
}

TEST_F(TempRoot, BuiltInPageWhenThereIsNoIndex) {
  FileStore no_root;
  EXPECT_EQ(no_root.check_root(), "");
  const Response r = get(no_root, "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("rl-httpd on redleaf"), std::string_view::npos);
  EXPECT_EQ(field(r.head, "Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(get(no_root, "/a.txt").status, 404);
  EXPECT_EQ(get(no_root, "/index.html").status, 404);

  std::filesystem::remove(root_ + "/index.html");
  FileStore files = store();
  EXPECT_NE(get(files, "/").body.find("rl-httpd on redleaf"), std::string_view::npos);
  EXPECT_EQ(get(files, "/empty/").status, 404) << "only the root gets the built-in page";
}

TEST_F(TempRoot, NoTargetReachesOutsideTheRoot) {
  FileStore files = store();
  const char* const targets[] = {
      "/../secret.txt", "/..%2fsecret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt", "/a/../../secret.txt",
      "/docs/../../secret.txt", "/./../secret.txt", "/link-out", "/link-abs", "/up/secret.txt", "/up/www/a.txt",
      "/up/", "/docs-link/guide.txt", "/link-in", "http://x/../secret.txt", "/..",
  };
  for (const char* target : targets) {
    for (Method m : {Method::Get, Method::Head}) {
      const Response r = get(files, target, m);
      EXPECT_TRUE(r.status == 400 || r.status == 404) << target << " → " << r.status;
      EXPECT_EQ(r.body.find("SECRET"), std::string_view::npos) << target;
    }
  }
  // The store refuses unclean paths from any caller, not only from respond().
  for (const char* path : {"../secret.txt", "a/../../secret.txt", "/etc/passwd", "", "docs//guide.txt", "./a.txt",
                           "docs/", "link-out", "up/secret.txt"})
    EXPECT_EQ(files.get(path, 0).status, FileStatus::NotFound) << path;
}

TEST_F(TempRoot, SpecialFilesAreNotServedAndDoNotBlock) {
  ASSERT_EQ(::mkfifo((root_ + "/fifo").c_str(), 0644), 0);
  FileStore files = store();
  EXPECT_EQ(get(files, "/fifo").status, 404) << "opening a FIFO must not wait for a writer";
}

TEST_F(TempRoot, MissingRootIsReportedUpFront) {
  FileStoreOptions o;
  o.root = base_ + "/nope";
  FileStore files(std::move(o));
  EXPECT_NE(files.check_root().find("cannot open the document root"), std::string::npos);
  EXPECT_EQ(store().check_root(), "");
  EXPECT_EQ(get(files, "/a.txt").status, 404);
}

TEST(HttpFiles, ContentTypeByExtension) {
  const std::pair<const char*, const char*> cases[] = {
      {"index.html", "text/html; charset=utf-8"}, {"a/b.HTM", "text/html; charset=utf-8"},
      {"t.txt", "text/plain; charset=utf-8"},    {"s.css", "text/css; charset=utf-8"},
      {"app.js", "text/javascript; charset=utf-8"}, {"d.json", "application/json"},
      {"i.png", "image/png"},                    {"i.jpg", "image/jpeg"},
      {"i.JPEG", "image/jpeg"},                  {"i.gif", "image/gif"},
      {"i.svg", "image/svg+xml"},                {"favicon.ico", "image/x-icon"},
      {"d.pdf", "application/pdf"},              {"m.wasm", "application/wasm"},
      {"archive.tar.gz", "application/octet-stream"}, {"README", "application/octet-stream"},
      {".htaccess", "application/octet-stream"}, {"dir.html/file", "application/octet-stream"},
      {"trailing.", "application/octet-stream"},
  };
  for (const auto& [path, type] : cases) EXPECT_EQ(content_type_for(path), type) << path;
}

// ------------------------------------------------------------ the cache

TEST_F(TempRoot, AHotFileIsReadOnceAndRevalidatedAfterASecond) {
  FileStore files = store();
  for (std::int64_t t = 0; t < 1000; ++t) ASSERT_EQ(get(files, "/a.txt", Method::Get, t).body, "alpha");
  EXPECT_EQ(files.files_read(), 1u) << "no read per request";
  const Response held = get(files, "/a.txt", Method::Get, 999);

  write("a.txt", "alpha, version two");
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 999).body, "alpha") << "not before a second has passed";
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 1000).body, "alpha, version two");
  EXPECT_EQ(files.files_read(), 2u);
  EXPECT_EQ(held.body, "alpha") << "a response being sent keeps its content alive";
  EXPECT_EQ(files.cached_bytes(), std::string("alpha, version two").size());

  get(files, "/a.txt", Method::Get, 2500);
  EXPECT_EQ(files.files_read(), 2u) << "revalidating an unchanged file does not read it";
}

TEST_F(TempRoot, SameSizeRewritesRenamesAndDeletionsArePickedUp) {
  // Back-date the file so a rewrite in the same clock tick still changes its mtime.
  const timespec past[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (root_ + "/a.txt").c_str(), past, 0), 0);
  FileStore files = store();
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 0).body, "alpha");
  write("a.txt", "ALPHA");
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 1000).body, "ALPHA");

  write("new.txt", "renamed in");
  std::filesystem::rename(root_ + "/new.txt", root_ + "/a.txt");
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 2000).body, "renamed in");

  std::filesystem::remove(root_ + "/a.txt");
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 2999).body, "renamed in");
  EXPECT_EQ(get(files, "/a.txt", Method::Get, 3000).status, 404);
  EXPECT_EQ(files.cached_bytes(), 0u);
}

TEST_F(TempRoot, FilesOverTheCapAre500WithOneLogLine) {
  write("big.bin", std::string(101, 'x'));
  write("fits.bin", std::string(100, 'x'));
  FileStore files = store(100);
  EXPECT_EQ(get(files, "/fits.bin").status, 200) << "exactly at the cap is served";
  EXPECT_EQ(get(files, "/big.bin", Method::Get, 0).status, 500);
  EXPECT_EQ(get(files, "/big.bin", Method::Head, 0).status, 500);
  EXPECT_EQ(get(files, "/big.bin", Method::Get, 5000).status, 500);
  ASSERT_EQ(log_.size(), 1u) << "logged once, not per request";
  EXPECT_NE(log_[0].find(root_ + "/big.bin is 101 bytes"), std::string::npos) << log_[0];
  EXPECT_NE(log_[0].find("max_file_size"), std::string::npos) << log_[0];

  write("big.bin", std::string(50, 'y'));
  EXPECT_EQ(get(files, "/big.bin", Method::Get, 6000).body, std::string(50, 'y')) << "served once it fits";
}

TEST_F(TempRoot, PastTheCacheBudgetFilesAreStillServed) {
  FileStoreOptions o;
  o.root = root_;
  o.max_cache_bytes = 4;  // smaller than "alpha"
  FileStore files(std::move(o));
  EXPECT_EQ(get(files, "/a.txt").body, "alpha");
  EXPECT_EQ(get(files, "/a.txt").body, "alpha");
  EXPECT_EQ(files.files_read(), 2u);
  EXPECT_EQ(files.cached_bytes(), 0u);
}

// ------------------------------------------------------------ fuzzing

// Seeded mutations of valid requests, and random bytes: every input ends in
// NeedMore, Done or Error, the same whichever way it is split, within limits,
// and a Done request is answered with a status from the list.
TEST_F(TempRoot, RandomAndMutatedRequestsNeverBreakTheParser) {
  const std::string corpus[] = {
      "GET /a.txt HTTP/1.1\r\nHost: a\r\nUser-Agent: curl/8.0\r\nAccept: */*\r\n\r\n",
      "HEAD /docs/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      "POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\nContent-Type: text/plain\r\n\r\npayload",
      "GET /%2e%2e/secret.txt?x=%41 HTTP/1.1\nHost: a\n\n",
      "PUT /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "GET http://example.com/docs HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n",
  };
  const std::string alphabet = std::string("\r\n :%./?#\t\0\x7f\xff", 14) + "GETHP01";
  Limits tiny;
  tiny.max_request_line = 48;
  tiny.max_target = 24;
  tiny.max_header_bytes = 96;
  tiny.max_headers = 4;
  tiny.max_body = 8;
  FileStore files = store();

  std::mt19937 rng(20240611);
  const auto below = [&rng](std::size_t n) -> std::size_t {
    return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  int done = 0, errors = 0, more = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string input;
    if (below(10) == 0) {
      input.resize(below(200));
      for (char& c : input) c = static_cast<char>(below(256));
    } else {
      input = corpus[below(std::size(corpus))];
      for (std::size_t edits = 1 + below(6); edits > 0; --edits) {
        const std::size_t at = below(input.size() + 1);
        const char c = below(2) ? alphabet[below(alphabet.size())] : static_cast<char>(below(256));
        switch (below(5)) {
          case 0: if (at < input.size()) input[at] = c; break;
          case 1: input.insert(input.begin() + static_cast<std::ptrdiff_t>(at), c); break;
          case 2: if (at < input.size()) input.erase(at, 1 + below(4)); break;
          case 3: input.insert(at, input.substr(below(input.size()), below(40))); break;
          case 4: input.resize(at); break;
        }
      }
    }
    const Limits& limits = round % 2 ? tiny : Limits{};
    const Parsed whole = feed_chunks({input}, limits);
    expect_same(whole, feed_chunks(bytes_of(input), limits), "byte by byte, round " + std::to_string(round));
    const std::size_t split = below(input.size() + 1);
    expect_same(whole, feed_chunks({std::string_view(input).substr(0, split), std::string_view(input).substr(split)},
                                   limits),
                "split, round " + std::to_string(round));
    ASSERT_LE(whole.consumed, input.size());
    switch (whole.status) {
      case ParseStatus::NeedMore:
        ++more;
        ASSERT_EQ(whole.consumed, input.size());
        break;
      case ParseStatus::Error: {
        ++errors;
        const int e = whole.error;
        ASSERT_TRUE(e == 400 || e == 411 || e == 413 || e == 414 || e == 431 || e == 501 || e == 505) << e;
        break;
      }
      case ParseStatus::Done: {
        ++done;
        const Request& r = whole.request;
        ASSERT_LE(r.target.size(), limits.max_target);
        ASSERT_LE(r.headers.size(), limits.max_headers);
        ASSERT_EQ(r.body.size(), r.content_length);
        ASSERT_LE(r.content_length, limits.max_body);
        const TargetPath where = resolve_target(r.target);
        if (where.status == 200) {
          ASSERT_EQ(("/" + where.relative + "/").find("/../"), std::string::npos) << r.target;
        }
        const Response as_sent = respond(r, files, round, "");
        const int s = as_sent.status;
        ASSERT_TRUE(s == 200 || s == 301 || s == 400 || s == 404 || s == 405 || s == 501) << s << " " << r.target;
        ASSERT_EQ(as_sent.body.find("SECRET"), std::string_view::npos) << r.target;
        Request as_get = r, as_head = r;
        as_get.method = Method::Get;
        as_head.method = Method::Head;
        const Response g = respond(as_get, files, round, ""), h = respond(as_head, files, round, "");
        ASSERT_EQ(g.head, h.head) << r.target;
        ASSERT_TRUE(h.body.empty()) << r.target;
        ASSERT_EQ(field(g.head, "Content-Length"), std::to_string(g.body.size())) << r.target;
        break;
      }
    }
    if (HasFailure()) {
      ADD_FAILURE() << "round " << round << " input: " << ::testing::PrintToString(input);
      return;
    }
  }
  // The mutations reach every outcome, so the loop tests something.
  EXPECT_GT(done, 1000);
  EXPECT_GT(errors, 1000);
  EXPECT_GT(more, 1000);
}

}  // namespace
}  // namespace rl::httpd
