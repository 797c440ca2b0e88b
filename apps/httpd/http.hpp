// rl-httpd's HTTP/1.1 core, independent of any transport: an incremental
// request parser (RFC 9112), response heads (RFC 9110), and the routing of a
// parsed request to the file store.  The server loop owns the sockets:
//
//   RequestParser parser;                          // one per connection
//   on bytes `in`:
//     while (!in.empty()) {
//       FeedResult r = parser.feed(in);
//       in.remove_prefix(r.consumed);
//       if (r.status == ParseStatus::NeedMore) break;            // wait for more bytes
//       Response out = r.status == ParseStatus::Done
//           ? respond(parser.request(), files, monotonic_ms(), date.at(time(nullptr)))
//           : error_response(parser.error_status(), false, false, date.at(time(nullptr)));
//       send(out.head); send(out.body);
//       if (!out.keep_alive) { close(); break; }
//       parser.reset();                                          // next pipelined request
//     }
//
// Nothing here throws on the parse path, allocates beyond `Limits`, or reads
// outside the bytes it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rl::httpd {

class FileStore;

// Every limit is checked while bytes arrive, so a request that breaks one is
// answered as soon as the first byte over it comes in.  A value equal to the
// limit is accepted; one more byte is not.
struct Limits {
  std::size_t max_request_line = 8192;   // request line without its line ending; over it → 414, or 501
                                         // while still in the method (RFC 9112 3); empty lines before
                                         // the request line count too (→ 400)
  std::size_t max_target = 2048;         // request target; over it → 414
  std::size_t max_header_bytes = 16384;  // header section as sent: field lines with their line endings
                                         // and the empty line that ends it; over it → 431
  std::size_t max_headers = 100;         // field lines; over it → 431
  std::size_t max_body = 1 << 20;        // Content-Length; over it → 413
};

enum class Method : std::uint8_t { Get, Head, Post, Put, Delete, Options, Patch, Trace, Connect, Other };

struct Header {
  std::string name;   // lowercased
  std::string value;  // without leading and trailing whitespace
};

struct Request {
  Method method = Method::Other;  // Other: a well-formed token we do not know (respond() → 501)
  std::string target;             // as sent (still percent-encoded)
  int version_minor = 1;          // 0 or 1 (HTTP/1.2..1.9 are read as 1.1, RFC 9110 2.5)
  std::vector<Header> headers;    // in arrival order
  bool keep_alive = false;        // 1.1: unless "Connection: close"; 1.0: only with "Connection: keep-alive"
  std::size_t content_length = 0;
  std::string body;               // content_length bytes

  // The first field named `name` (any case), or nullptr.
  const std::string* header(std::string_view name) const;
};

enum class ParseStatus : std::uint8_t { NeedMore, Done, Error };

struct FeedResult {
  ParseStatus status;
  std::size_t consumed;  // bytes of the input that belong to this request; the rest is the next one's
};

// Parses one request at a time from bytes split anywhere.  After Done, the
// request is in request() and the parser takes no more bytes until reset().
// After Error, error_status() is the status to answer, and the connection
// must be closed after answering: the framing of what follows is unknown.
//
// Unknown method tokens are not an error here: the request is well framed,
// so it is parsed to the end and respond() answers 501 on a connection that
// stays usable.  Chunked request bodies are refused with 411 Length Required
// (RFC 9110 15.5.12): we only read bodies whose length is declared.
class RequestParser {
 public:
  explicit RequestParser(Limits limits = {}) : limits_(limits) {}

  [[nodiscard]] FeedResult feed(std::string_view bytes);
  const Request& request() const { return request_; }
  int error_status() const { return error_status_; }  // 0 unless feed() returned Error
  void reset();                                        // ready for the next request

 private:
  enum class State : std::uint8_t {
    RequestLineStart, Method, Target, Version, RequestLineLF,
    FieldStart, FieldName, FieldValue, FieldLF, SectionLF, Body, Done, Error,
  };
  FeedResult fail(int status, std::size_t consumed);
  int finish_request_line();
  int finish_field();
  int finish_header_section();

  Limits limits_;
  State state_ = State::RequestLineStart;
  int error_status_ = 0;
  Request request_;
  std::size_t request_line_bytes_ = 0;
  std::size_t header_bytes_ = 0;
  std::size_t body_left_ = 0;
  char method_[8] = {};  // long enough for every method we know; longer ones are Other
  std::size_t method_length_ = 0;
  char version_[8] = {};  // "HTTP/1.1"
  std::size_t version_length_ = 0;
  std::string field_name_, field_value_;
  int host_fields_ = 0;
  bool content_length_seen_ = false, content_length_bad_ = false;
  bool transfer_encoding_seen_ = false, transfer_encoding_chunked_last_ = false;
  bool connection_close_ = false, connection_keep_alive_ = false;
};

// Where a request target points: the percent-decoded path relative to the
// root, with "." and empty segments dropped ("" is the root itself).
struct TargetPath {
  int status = 200;                 // 400: not origin- or absolute-form, a bad %-escape, %00 or a
                                    // control byte, or a ".." segment (see http.cpp for why 400)
  std::string relative;             // e.g. "docs/index.html"
  bool directory = false;           // the path ended in "/" (or "/.")
  std::string_view path, query;     // views into the target: the raw path, the query without "?"
};
TargetPath resolve_target(std::string_view target);

// A response ready to send: `head`, then `body`.
struct Response {
  int status = 500;
  bool keep_alive = false;                   // false: close the connection after sending
  std::string head;                          // status line and header section, with the empty line
  std::string_view body;                     // empty for HEAD (Content-Length still gives the size)
  std::shared_ptr<const void> body_owner;    // keeps `body` alive (a cached file); null if static
};

// "Not Found" for 404; "" for a status we never send.
std::string_view reason_phrase(int status);

// The status line and header section: Server, Date (left out when `date` is
// empty), Content-Type, Content-Length, Allow (on 405), `extra_fields` (whole
// lines with CRLF), Connection.
std::string response_head(int status, std::string_view content_type, std::size_t content_length,
                          bool keep_alive, std::string_view date, std::string_view extra_fields = {});

// A status with its short HTML page (no page when `head_only`).
Response error_response(int status, bool keep_alive, bool head_only, std::string_view date);

// GET and HEAD are served from `files` (at "/", a built-in page when there
// is no index.html); other known methods get 405, unknown ones 501.
// `now_ms` is a monotonic clock for the file cache, `date` the Date value.
Response respond(const Request& request, FileStore& files, std::int64_t now_ms, std::string_view date);

// The Date header's value (IMF-fixdate, RFC 9110 5.6.7), formatted once per
// second.  One per server thread.
class HttpDate {
 public:
  std::string_view at(std::int64_t unix_seconds);

 private:
  std::int64_t second_ = INT64_MIN;
  char text_[40] = {};
  std::size_t length_ = 0;
};

}  // namespace rl::httpd
