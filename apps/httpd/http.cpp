#include "apps/httpd/http.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <iterator>

#include "apps/httpd/files.hpp"

namespace rl::httpd {

namespace {

// Byte classes of RFC 9110 5.6.2 (tchar), RFC 9112 3.2 (a request target is
// visible ASCII) and RFC 9110 5.5 (field values: VCHAR, obs-text, SP, HTAB;
// CR, LF, NUL and other controls are rejected rather than replaced).
enum : std::uint8_t { kToken = 1, kTarget = 2, kFieldValue = 4 };

constexpr std::array<std::uint8_t, 256> kByteClass = [] {
  std::array<std::uint8_t, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos)
      classes[c] |= kToken;
    if (c >= 0x21 && c <= 0x7e) classes[c] |= kTarget;
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) classes[c] |= kFieldValue;
  }
  return classes;
}();

bool is(std::uint8_t byte_class, unsigned char c) { return (kByteClass[c] & byte_class) != 0; }

char to_lower(unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c); }

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(static_cast<unsigned char>(a[i])) != to_lower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string_view trim_whitespace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `each` with every trimmed, non-empty element of a comma-separated
// list (RFC 9110 5.6.1: recipients accept empty elements and ignore them).
template <typename Fn>
void for_each_list_element(std::string_view list, Fn each) {
  while (true) {
    const std::size_t comma = list.find(',');
    std::string_view element = trim_whitespace(list.substr(0, comma));
    if (!element.empty()) each(element);
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

struct KnownMethod {
  std::string_view token;
  Method method;
};
constexpr KnownMethod kMethods[] = {
    {"GET", Method::Get},         {"HEAD", Method::Head},   {"POST", Method::Post},
    {"PUT", Method::Put},         {"DELETE", Method::Delete}, {"OPTIONS", Method::Options},
    {"PATCH", Method::Patch},     {"TRACE", Method::Trace}, {"CONNECT", Method::Connect},
};

}  // namespace

const std::string* Request::header(std::string_view name) const {
  for (const Header& h : headers)
    if (equals_ignoring_case(h.name, name)) return &h.value;
  return nullptr;
}

FeedResult RequestParser::fail(int status, std::size_t consumed) {
  state_ = State::Error;
  error_status_ = status;
  request_.keep_alive = false;
  return {ParseStatus::Error, consumed};
}

void RequestParser::reset() {
  state_ = State::RequestLineStart;
  error_status_ = 0;
  request_.method = Method::Other;
  request_.target.clear();
  request_.version_minor = 1;
  request_.headers.clear();
  request_.keep_alive = false;
  request_.content_length = 0;
  // A connection keeps its buffers between requests, but not a large body's.
  if (request_.body.capacity() > 64 * 1024) std::string().swap(request_.body);
  request_.body.clear();
  request_line_bytes_ = header_bytes_ = body_left_ = 0;
  method_length_ = version_length_ = 0;
  field_name_.clear();
  field_value_.clear();
  host_fields_ = 0;
  content_length_seen_ = content_length_bad_ = false;
  transfer_encoding_seen_ = transfer_encoding_chunked_last_ = false;
  connection_close_ = connection_keep_alive_ = false;
}

// Consumed counts, including on Error, run up to and including the byte that
// decided: so feeding byte by byte or all at once gives the same total.
FeedResult RequestParser::feed(std::string_view bytes) {
  if (state_ == State::Done) return {ParseStatus::Done, 0};
  if (state_ == State::Error) return {ParseStatus::Error, 0};
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;

  while (i < n) {
    switch (state_) {
      case State::RequestLineStart: {
        const unsigned char c = in[i];
        if (c != '\r' && c != '\n') {
          state_ = State::Method;
          break;
        }
        // Empty lines before a request line are skipped (RFC 9112 2.2); they
        // count against the request line's limit so they cannot go on forever.
        ++i;
        if (++request_line_bytes_ > limits_.max_request_line) return fail(400, i);
        if (c == '\r') state_ = State::RequestLineLF;
        break;
      }

      case State::Method: {
        const unsigned char c = in[i++];
        if (c == ' ') {
          if (method_length_ == 0) return fail(400, i);
          if (++request_line_bytes_ > limits_.max_request_line) return fail(400, i);
          state_ = State::Target;
          break;
        }
        if (!is(kToken, c)) return fail(400, i);
        // RFC 9112 3: a method longer than any we implement → 501.
        if (++request_line_bytes_ > limits_.max_request_line) return fail(501, i);
        if (method_length_ < sizeof method_) method_[method_length_] = static_cast<char>(c);
        ++method_length_;
        break;
      }

      case State::Target: {
        std::size_t end = i;
        while (end < n && is(kTarget, in[end])) ++end;
        const std::size_t run = end - i;
        const std::size_t target_room = limits_.max_target - request_.target.size();
        const std::size_t line_room = limits_.max_request_line - request_line_bytes_;
        if (run > target_room || run > line_room) return fail(414, i + std::min(target_room, line_room) + 1);
        request_.target.append(bytes.data() + i, run);
        request_line_bytes_ += run;
        i = end;
        if (i == n) break;
        // Exactly one SP between the parts (RFC 9112 3); no target → 400.
        if (in[i++] != ' ' || request_.target.empty()) return fail(400, i);
        if (++request_line_bytes_ > limits_.max_request_line) return fail(414, i);
        state_ = State::Version;
        break;
      }

      case State::Version: {
        const unsigned char c = in[i++];
        if (c == '\r' || c == '\n') {
          if (int status = finish_request_line()) return fail(status, i);
          state_ = c == '\r' ? State::RequestLineLF : State::FieldStart;
          break;
        }
        if (version_length_ == sizeof version_) return fail(400, i);
        // The version has a fixed length: a line too long here is a long target.
        if (++request_line_bytes_ > limits_.max_request_line) return fail(414, i);
        version_[version_length_++] = static_cast<char>(c);
        break;
      }

      case State::RequestLineLF:  // after a CR: a bare CR is invalid (RFC 9112 2.2)
        if (in[i++] != '\n') return fail(400, i);
        state_ = method_length_ == 0 ? State::RequestLineStart : State::FieldStart;
        break;

      case State::FieldStart: {
        const unsigned char c = in[i++];
        if (++header_bytes_ > limits_.max_header_bytes) return fail(431, i);
        if (c == '\r') {
          state_ = State::SectionLF;
          break;
        }
        if (c == '\n') {
          if (int status = finish_header_section()) return fail(status, i);
          if (state_ == State::Done) return {ParseStatus::Done, i};
          break;
        }
        // A line starting with whitespace is obs-fold (RFC 9112 5.2) or, before
        // the first field, whitespace after the start line (2.2): both 400.
        if (!is(kToken, c)) return fail(400, i);
        if (request_.headers.size() >= limits_.max_headers) return fail(431, i);
        field_name_.assign(1, to_lower(c));
        field_value_.clear();
        state_ = State::FieldName;
        break;
      }

      case State::FieldName: {
        std::size_t end = i;
        while (end < n && is(kToken, in[end])) ++end;
        const std::size_t room = limits_.max_header_bytes - header_bytes_;
        if (end - i > room) return fail(431, i + room + 1);
        header_bytes_ += end - i;
        for (; i < end; ++i) field_name_.push_back(to_lower(in[i]));
        if (i == n) break;
        ++header_bytes_;
        // No whitespace before the colon (RFC 9112 5.1: MUST reject with 400).
        if (in[i++] != ':') return fail(header_bytes_ > limits_.max_header_bytes ? 431 : 400, i);
        if (header_bytes_ > limits_.max_header_bytes) return fail(431, i);
        state_ = State::FieldValue;
        break;
      }

      case State::FieldValue: {
        std::size_t end = i;
        while (end < n && is(kFieldValue, in[end])) ++end;
        const std::size_t room = limits_.max_header_bytes - header_bytes_;
        if (end - i > room) return fail(431, i + room + 1);
        header_bytes_ += end - i;
        std::size_t start = i;
        if (field_value_.empty())  // leading whitespace is not part of the value
          while (start < end && (in[start] == ' ' || in[start] == '\t')) ++start;
        field_value_.append(bytes.data() + start, end - start);
        i = end;
        if (i == n) break;
        const unsigned char c = in[i++];
        if (++header_bytes_ > limits_.max_header_bytes) return fail(431, i);
        if (c == '\r') {
          state_ = State::FieldLF;
        } else if (c == '\n') {
          if (int status = finish_field()) return fail(status, i);
          state_ = State::FieldStart;
        } else {
          return fail(400, i);  // NUL, DEL or another control byte in a value
        }
        break;
      }

      case State::FieldLF:
      case State::SectionLF: {
        const unsigned char c = in[i++];
        if (++header_bytes_ > limits_.max_header_bytes) return fail(431, i);
        if (c != '\n') return fail(400, i);
        if (state_ == State::FieldLF) {
          if (int status = finish_field()) return fail(status, i);
          state_ = State::FieldStart;
          break;
        }
        if (int status = finish_header_section()) return fail(status, i);
        if (state_ == State::Done) return {ParseStatus::Done, i};
        break;
      }

      case State::Body: {
        const std::size_t take = std::min(n - i, body_left_);
        request_.body.append(bytes.data() + i, take);
        i += take;
        body_left_ -= take;
        if (body_left_ == 0) {
          state_ = State::Done;
          return {ParseStatus::Done, i};
        }
        break;
      }

      case State::Done:
      case State::Error:
        return {state_ == State::Done ? ParseStatus::Done : ParseStatus::Error, i};
    }
  }
  return {ParseStatus::NeedMore, i};
}

int RequestParser::finish_request_line() {
  request_.method = Method::Other;
  if (method_length_ <= sizeof method_) {
    const std::string_view token(method_, method_length_);
    for (const KnownMethod& m : kMethods)
      if (m.token == token) request_.method = m.method;  // methods are case-sensitive (RFC 9110 9.1)
  }
  // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3).
  const std::string_view version(version_, version_length_);
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !digit(version[5]) || version[6] != '.' ||
      !digit(version[7]))
    return 400;
  if (version[5] != '1') return 505;
  // A higher minor version of 1.x is read as 1.1 (RFC 9110 2.5).
  request_.version_minor = version[7] == '0' ? 0 : 1;
  return 0;
}

int RequestParser::finish_field() {
  while (!field_value_.empty() && (field_value_.back() == ' ' || field_value_.back() == '\t'))
    field_value_.pop_back();
  const std::string_view name = field_name_, value = field_value_;

  if (name == "content-length") {
    // 1*DIGIT, possibly a list of the same value repeated (RFC 9112 6.3 item
    // 5); anything else, or a second field with another value, is the
    // request smuggling pattern: 400.
    bool any = false;
    for_each_list_element(value, [&](std::string_view element) {
      any = true;
      std::size_t length = 0;
      for (char c : element) {
        if (c < '0' || c > '9') {
          content_length_bad_ = true;
          return;
        }
        const auto d = static_cast<std::size_t>(c - '0');
        length = length > (SIZE_MAX - d) / 10 ? SIZE_MAX : length * 10 + d;  // saturates: 413 later
      }
      if (content_length_seen_ && length != request_.content_length) content_length_bad_ = true;
      content_length_seen_ = true;
      request_.content_length = length;
    });
    if (!any) content_length_bad_ = true;
  } else if (name == "transfer-encoding") {
    transfer_encoding_seen_ = true;
    transfer_encoding_chunked_last_ = false;
    for_each_list_element(value, [&](std::string_view coding) {
      transfer_encoding_chunked_last_ = equals_ignoring_case(coding, "chunked");
    });
  } else if (name == "connection") {
    for_each_list_element(value, [&](std::string_view option) {
      if (equals_ignoring_case(option, "close")) connection_close_ = true;
      if (equals_ignoring_case(option, "keep-alive")) connection_keep_alive_ = true;
    });
  } else if (name == "host") {
    ++host_fields_;
  }
  request_.headers.push_back({std::move(field_name_), std::move(field_value_)});
  field_name_.clear();
  field_value_.clear();
  return 0;
}

int RequestParser::finish_header_section() {
  // RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any
  // request with more than one.
  if ((request_.version_minor == 1 && host_fields_ == 0) || host_fields_ > 1) return 400;
  if (content_length_bad_) return 400;
  if (transfer_encoding_seen_) {
    // RFC 9112 6.1: Transfer-Encoding with Content-Length is how requests are
    // smuggled; with HTTP/1.0, or without chunked last, the framing is broken.
    if (content_length_seen_ || request_.version_minor == 0 || !transfer_encoding_chunked_last_) return 400;
    // A well-formed chunked body we choose not to decode: 411 tells the
    // client what to do instead (send Content-Length).  501 would say the
    // server cannot do it at all, which is not what the client should fix.
    return 411;
  }
  if (request_.content_length > limits_.max_body) return 413;
  request_.keep_alive =
      !connection_close_ && (request_.version_minor == 1 || connection_keep_alive_);
  body_left_ = request_.content_length;
  state_ = body_left_ == 0 ? State::Done : State::Body;
  return 0;
}

// ---------------------------------------------------------------- targets

TargetPath resolve_target(std::string_view target) {
  TargetPath out;
  const auto bad = [&out] {
    out.status = 400;
    out.relative.clear();
    return out;
  };
  std::string_view rest = target;
  // RFC 9112 3.2.2: a server MUST accept the absolute-form; the authority is
  // ignored (one site per server).
  for (std::string_view scheme : {"http://", "https://"}) {
    if (rest.size() >= scheme.size() && equals_ignoring_case(rest.substr(0, scheme.size()), scheme)) {
      rest.remove_prefix(scheme.size());
      const std::size_t path_start = rest.find_first_of("/?");
      rest = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
      if (rest.empty() || rest[0] == '?') {
        out.path = "/";
        out.query = rest.empty() ? rest : rest.substr(1);
        rest = out.path;
      }
      break;
    }
  }
  if (rest.empty() || rest[0] != '/') return bad();  // asterisk- or authority-form, or junk
  if (rest.find('#') != std::string_view::npos) return bad();  // a fragment is never sent
  const std::size_t question = rest.find('?');
  if (out.query.empty() && question != std::string_view::npos) out.query = rest.substr(question + 1);
  if (out.path.empty()) out.path = rest.substr(0, question);

  // Decode %XX; a bad escape, NUL or another control byte is 400: no file
  // name needs them, and decoded controls would end up in log lines.
  std::string decoded;
  decoded.reserve(out.path.size());
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out.path.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out.path[i]);
    if (c == '%') {
      if (i + 2 >= out.path.size()) return bad();  // needs two more bytes
      const int high = hex(out.path[i + 1]), low = hex(out.path[i + 2]);
      if (high < 0 || low < 0) return bad();
      c = static_cast<unsigned char>(high * 16 + low);
      i += 2;
    }
    if (c < 0x20 || c == 0x7f) return bad();
    decoded.push_back(static_cast<char>(c));
  }

  // Segments after decoding, so "%2e%2e" and "..%2f" are seen for what they
  // are.  A ".." segment is 400, not resolved: clients remove dot segments
  // before sending (RFC 3986 5.2.4; curl needs --path-as-is to keep them), so
  // one that arrives is a probe or a broken client, and 400 says so in the
  // log instead of pretending we looked for a file.
  std::string_view remaining = std::string_view(decoded).substr(1);
  while (true) {
    const std::size_t slash = remaining.find('/');
    const std::string_view segment = remaining.substr(0, slash);
    if (segment == "..") return bad();
    const bool last = slash == std::string_view::npos;
    if (!segment.empty() && segment != ".") {
      if (!out.relative.empty()) out.relative.push_back('/');
      out.relative.append(segment);
    }
    if (last) {
      out.directory = segment.empty() || segment == ".";
      break;
    }
    remaining.remove_prefix(slash + 1);
  }
  return out;
}

// ---------------------------------------------------------------- responses

namespace {

struct StatusText {
  int code;
  std::string_view reason;  // RFC 9110 15
};
constexpr StatusText kStatuses[] = {
    {200, "OK"},
    {301, "Moved Permanently"},
    {400, "Bad Request"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {411, "Length Required"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
    {505, "HTTP Version Not Supported"},
};

// The error pages, built at compile time from the table above so the two
// cannot disagree: "<html><body><h1>404 Not Found</h1></body></html>\n".
struct Page {
  std::array<char, 96> text{};
  std::size_t length = 0;
};
constexpr std::string_view kPageOpen = "<html><body><h1>", kPageClose = "</h1></body></html>\n";

constexpr std::size_t page_length(const StatusText& s) {
  return kPageOpen.size() + 4 + s.reason.size() + kPageClose.size();
}

constexpr auto kPages = [] {
  std::array<Page, std::size(kStatuses)> pages{};
  for (std::size_t p = 0; p < pages.size(); ++p) {
    Page& page = pages[p];
    const auto put = [&page](std::string_view s) {
      for (char c : s) page.text[page.length++] = c;
    };
    const int code = kStatuses[p].code;
    put(kPageOpen);
    const char digits[] = {static_cast<char>('0' + code / 100), static_cast<char>('0' + code / 10 % 10),
                           static_cast<char>('0' + code % 10), ' '};
    put(std::string_view(digits, 4));
    put(kStatuses[p].reason);
    put(kPageClose);
  }
  return pages;
}();
static_assert(std::all_of(std::begin(kStatuses), std::end(kStatuses),
                          [](const StatusText& s) { return page_length(s) <= Page{}.text.size(); }),
              "an error page outgrew Page::text");

std::string_view error_page(int status) {
  for (std::size_t i = 0; i < std::size(kStatuses); ++i)
    if (kStatuses[i].code == status) return {kPages[i].text.data(), kPages[i].length};
  return {};
}

constexpr std::string_view kHtml = "text/html; charset=utf-8";

// The page at "/" when there is no index.html: the demo points curl at it.
constexpr std::string_view kBuiltinPage =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>rl-httpd on redleaf</title></head>\n"
    "<body>\n"
    "<h1>rl-httpd on redleaf</h1>\n"
    "<p>This page is served by rl-httpd, an HTTP/1.1 server running on redleaf, "
    "a C++20 user-space library OS.</p>\n"
    "<p>It is built in: no document root was given, or the root has no index.html.</p>\n"
    "</body></html>\n";

Response with_body(int status, std::string_view content_type, std::string_view body, bool keep_alive,
                   bool head_only, std::string_view date, std::string_view extra_fields = {}) {
  Response r;
  r.status = status;
  r.keep_alive = keep_alive;
  r.head = response_head(status, content_type, body.size(), keep_alive, date, extra_fields);
  if (!head_only) r.body = body;
  return r;
}

}  // namespace

std::string_view reason_phrase(int status) {
  for (const StatusText& s : kStatuses)
    if (s.code == status) return s.reason;
  return {};
}

std::string response_head(int status, std::string_view content_type, std::size_t content_length,
                          bool keep_alive, std::string_view date, std::string_view extra_fields) {
  std::string head;
  head.reserve(160 + extra_fields.size());
  char number[24];
  head += "HTTP/1.1 ";
  head.append(number, std::to_chars(number, number + sizeof number, status).ptr);
  head += ' ';
  head += reason_phrase(status);
  head += "\r\nServer: rl-httpd\r\n";
  if (!date.empty()) {
    head += "Date: ";
    head += date;
    head += "\r\n";
  }
  head += "Content-Type: ";
  head += content_type;
  head += "\r\nContent-Length: ";
  head.append(number, std::to_chars(number, number + sizeof number, content_length).ptr);
  head += "\r\n";
  if (status == 405) head += "Allow: GET, HEAD\r\n";
  head += extra_fields;
  head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
  return head;
}

Response error_response(int status, bool keep_alive, bool head_only, std::string_view date) {
  return with_body(status, kHtml, error_page(status), keep_alive, head_only, date);
}

Response respond(const Request& request, FileStore& files, std::int64_t now_ms, std::string_view date) {
  const bool keep_alive = request.keep_alive;
  switch (request.method) {
    case Method::Get:
    case Method::Head:
      break;
    case Method::Other:
      return error_response(501, keep_alive, false, date);  // RFC 9110 9.1
    default:
      return error_response(405, keep_alive, false, date);
  }
  const bool head_only = request.method == Method::Head;
  const TargetPath where = resolve_target(request.target);
  if (where.status != 200) return error_response(where.status, keep_alive, head_only, date);

  std::string path = where.relative;
  if (where.directory) path += path.empty() ? "index.html" : "/index.html";
  const FileLookup found = files.get(path, now_ms);
  switch (found.status) {
    case FileStatus::Found: {
      Response r = with_body(200, found.content_type, *found.content, keep_alive, head_only, date);
      r.body_owner = found.content;
      return r;
    }
    case FileStatus::Directory:
      if (!where.directory) {
        // "/docs" names a directory: send the client to "/docs/" so relative
        // links in its index.html resolve inside it (what nginx does).
        std::string location = "Location: ";
        location += where.path;
        location += '/';
        if (!where.query.empty()) {
          location += '?';
          location += where.query;
        }
        location += "\r\n";
        return with_body(301, kHtml, error_page(301), keep_alive, head_only, date, location);
      }
      [[fallthrough]];  // ".../index.html" is itself a directory: no index
    case FileStatus::NotFound:
      if (where.directory && where.relative.empty())
        return with_body(200, kHtml, kBuiltinPage, keep_alive, head_only, date);
      return error_response(404, keep_alive, head_only, date);
    case FileStatus::TooLarge:
    case FileStatus::Error:
      break;
  }
  return error_response(500, keep_alive, head_only, date);
}

std::string_view HttpDate::at(std::int64_t unix_seconds) {
  if (unix_seconds == second_) return {text_, length_};
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  if (gmtime_r(&seconds, &utc) == nullptr || utc.tm_year + 1900 > 9999 || utc.tm_year + 1900 < 0) return {};
  // Formatted by hand: strftime's %a and %b follow the locale, and the
  // header must be English whatever the process's locale is.
  const int written = std::snprintf(text_, sizeof text_, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                    kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon], utc.tm_year + 1900,
                                    utc.tm_hour, utc.tm_min, utc.tm_sec);
  if (written <= 0 || static_cast<std::size_t>(written) >= sizeof text_) return {};
  second_ = unix_seconds;
  length_ = static_cast<std::size_t>(written);
  return {text_, length_};
}

}  // namespace rl::httpd
