// rl-sh: a small shell for looking around an rlfs image through the POSIX
// subset (libredleaf/posix), the way an application sees it.
//
//   rl-sh [--create-size 64M] [--through shadow|domain] IMAGE [-c "cmd; cmd"]
//
// Without -c it reads commands from stdin, one or more per line (prompting
// when stdin is a terminal).  The exit status is 0 when every command
// succeeded, else the status of the last one that failed -- so a script or
// test sees any failure.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "domains/fs/disk.hpp"
#include "domains/fs/mkfs.hpp"
#include "domains/fs/mount.hpp"
#include "libredleaf/posix/posix.hpp"

namespace {

using rl::posix::Process;

constexpr const char* kUsage =
    "usage: rl-sh [--create-size SIZE] [--through shadow|domain] IMAGE [-c \"cmd; cmd ...\"]\n"
    "  IMAGE             an rlfs image file (make one with rl-mkfs, or pass --create-size)\n"
    "                    or a device spec (sim:nvme,..., sim:ram,blocks=N, a PCI address)\n"
    "  --create-size S   create IMAGE (must not exist) S bytes large (64M, 1G, ...) and format it\n"
    "  --through T       how the block device is reached: shadow (default) or domain\n"
    "  -c CMDS           run CMDS (separated by ';') and exit; otherwise read commands from stdin\n";

constexpr const char* kHelp =
    "commands:\n"
    "  ls [-l] [-a] [PATH...]      list directories (or show files)\n"
    "  cat FILE...                 print files\n"
    "  echo WORDS...               print words; `> FILE` or `>> FILE` redirects any command\n"
    "  touch FILE...               create empty files\n"
    "  mkdir [-p] DIR...           make directories\n"
    "  rmdir DIR...                remove empty directories\n"
    "  rm [-r] PATH...             remove files (and with -r, directory trees)\n"
    "  mv FROM TO                  rename (into TO when it is a directory)\n"
    "  stat PATH...                show inode details\n"
    "  df                          blocks and inodes used, log commits, cache\n"
    "  cd [DIR], pwd               change or show the working directory\n"
    "  put HOSTFILE PATH           copy a file from the host into the image\n"
    "  get PATH HOSTFILE           copy a file from the image to the host\n"
    "  sync                        commit and flush everything\n"
    "  help, exit [N]\n";

// Where a command's output goes: stdout, or a file in the image (`> FILE`).
struct Out {
  Process* p = nullptr;
  int fd = -1;   // in the image; -1 = stdout
  bool failed = false;
  int err = 0;

  void put(const char* s, size_t n) {
    if (fd < 0) {
      std::fwrite(s, 1, n, stdout);
      return;
    }
    while (n > 0 && !failed) {
      ssize_t w = p->write(fd, s, n);
      if (w < 0) {
        failed = true;
        err = errno;
        return;
      }
      s += w;
      n -= static_cast<size_t>(w);
    }
  }
  void put(const std::string& s) { put(s.data(), s.size()); }
};

// Splits a line into commands (';') of words; quotes ('...', "...") and
// backslashes keep spaces and ';' inside words.  False on an open quote.
bool parse(const std::string& line, std::vector<std::vector<std::string>>* cmds, std::string* error) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  auto end_word = [&] {
    if (in_word) words.push_back(word);
    word.clear();
    in_word = false;
  };
  auto end_cmd = [&] {
    end_word();
    if (!words.empty()) cmds->push_back(std::move(words));
    words.clear();
  };
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote == '"' && i + 1 < line.size()) {
        word += line[++i];
      } else {
        word += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      in_word = true;
    } else if (c == ';' || c == '\n') {
      end_cmd();
    } else if (c == '#' && !in_word) {
      break;   // a comment to the end of the line
    } else if (c == ' ' || c == '\t') {
      end_word();
    } else if (c == '>') {
      // ">" and ">>" are words of their own even without spaces around them.
      end_word();
      if (i + 1 < line.size() && line[i + 1] == '>') {
        words.push_back(">>");
        ++i;
      } else {
        words.push_back(">");
      }
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote) {
    *error = std::string("unterminated ") + quote + " quote";
    return false;
  }
  end_cmd();
  return true;
}

std::string mode_string(mode_t m) {
  std::string s = S_ISDIR(m) ? "d" : S_ISFIFO(m) ? "p" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (m & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

std::string time_string(const struct timespec& t) {
  char buf[64];
  struct tm tm {};
  time_t sec = t.tv_sec;
  localtime_r(&sec, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string join(const std::string& dir, const std::string& name) {
  return dir.empty() || dir.back() == '/' ? dir + name : dir + "/" + name;
}

class Shell {
 public:
  explicit Shell(Process& p) : p_(p) {}

  // Runs one command; returns its exit status.
  int run(std::vector<std::string> argv) {
    Out out;
    out.p = &p_;
    // Redirection: the last "> FILE" or ">> FILE" wins, as in sh.
    for (size_t i = 0; i < argv.size();) {
      if (argv[i] != ">" && argv[i] != ">>") {
        ++i;
        continue;
      }
      if (i + 1 >= argv.size()) return complain("rl-sh: syntax error: " + argv[i] + " needs a file name", 2);
      int flags = O_WRONLY | O_CREAT | (argv[i] == ">" ? O_TRUNC : O_APPEND);
      if (out.fd >= 0) (void)p_.close(out.fd);
      out.fd = p_.open(argv[i + 1].c_str(), flags, 0644);
      if (out.fd < 0) return complain("rl-sh: " + argv[i + 1] + ": " + std::strerror(errno), 1);
      argv.erase(argv.begin() + static_cast<long>(i), argv.begin() + static_cast<long>(i) + 2);
    }
    int status = argv.empty() ? 0 : dispatch(argv, out);
    if (out.fd >= 0) {
      (void)p_.close(out.fd);
      if (out.failed) status = complain("rl-sh: write error: " + std::string(std::strerror(out.err)), 1);
    }
    std::fflush(stdout);
    return status;
  }

  bool exiting() const { return exit_ >= 0; }
  int exit_status() const { return exit_; }

  // Runs every command of `text`; a failure sets *status (and a bare `exit`'s).
  void run_text(const std::string& text, int* status) {
    std::vector<std::vector<std::string>> cmds;
    std::string err;
    if (!parse(text, &cmds, &err)) {
      std::fprintf(stderr, "rl-sh: syntax error: %s\n", err.c_str());
      *status = last_ = 2;
      return;
    }
    for (auto& c : cmds) {
      int s = run(std::move(c));
      if (s != 0) *status = last_ = s;
      if (exiting()) return;
    }
  }

 private:
  int dispatch(const std::vector<std::string>& a, Out& out) {
    const std::string& c = a[0];
    std::vector<std::string> args(a.begin() + 1, a.end());
    if (c == "ls") return ls(args, out);
    if (c == "cat") return cat(args, out);
    if (c == "echo") return echo(args, out);
    if (c == "touch") return touch(args);
    if (c == "mkdir") return mkdir(args);
    if (c == "rmdir") return each(args, "rmdir", [&](const std::string& x) {
      return p_.rmdir(x.c_str()) == 0 ? 0 : complain_errno("rmdir: failed to remove '" + x + "'");
    });
    if (c == "rm") return rm(args);
    if (c == "mv") return mv(args);
    if (c == "stat") return each(args, "stat", [&](const std::string& x) { return stat(x, out); });
    if (c == "df") return df(out);
    if (c == "cd") return cd(args);
    if (c == "pwd") {
      char buf[rl::fs::kPathMax];
      out.put(std::string(p_.getcwd(buf, sizeof buf)) + "\n");
      return 0;
    }
    if (c == "put") return put(args);
    if (c == "get") return get(args);
    if (c == "sync") return p_.sync() == 0 ? 0 : complain_errno("sync");
    if (c == "help") {
      out.put(kHelp);
      return 0;
    }
    if (c == "exit") {
      exit_ = args.empty() ? last_ : std::atoi(args[0].c_str());
      return exit_;
    }
    return complain("rl-sh: " + c + ": command not found (try help)", 127);
  }

  int complain(const std::string& msg, int status) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", msg.c_str());
    return status;
  }
  int complain_errno(const std::string& what) { return complain(what + ": " + std::strerror(errno), 1); }

  template <class F>
  int each(const std::vector<std::string>& args, const char* name, F&& f) {
    if (args.empty()) return complain(std::string(name) + ": missing operand", 1);
    int status = 0;
    for (const auto& x : args)
      if (int s = f(x)) status = s;
    return status;
  }

  // Options like "-l", "-la" from the front of args; false on an unknown one.
  bool options(std::vector<std::string>& args, const std::string& known, std::string* seen,
               const char* cmd) {
    while (!args.empty() && args[0].size() > 1 && args[0][0] == '-') {
      for (char o : args[0].substr(1)) {
        if (known.find(o) == std::string::npos) {
          complain(std::string(cmd) + ": invalid option -- '" + o + "'", 1);
          return false;
        }
        *seen += o;
      }
      args.erase(args.begin());
    }
    return true;
  }

  std::string long_line(const std::string& name, const struct stat& st) {
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s %3lu %10lld %s ", mode_string(st.st_mode).c_str(),
                  static_cast<unsigned long>(st.st_nlink), static_cast<long long>(st.st_size),
                  time_string(st.st_mtim).c_str());
    return buf + name + "\n";
  }

  int ls(std::vector<std::string> args, Out& out) {
    std::string opts;
    if (!options(args, "la1", &opts, "ls")) return 2;
    bool lng = opts.find('l') != std::string::npos, all = opts.find('a') != std::string::npos;
    if (args.empty()) args.push_back(".");
    int status = 0;
    for (const auto& path : args) {
      struct stat st;
      if (p_.stat(path.c_str(), &st) != 0) {
        status = complain_errno("ls: cannot access '" + path + "'");
        continue;
      }
      if (args.size() > 1 && S_ISDIR(st.st_mode)) out.put(path + ":\n");
      if (!S_ISDIR(st.st_mode)) {
        out.put(lng ? long_line(path, st) : path + "\n");
        continue;
      }
      rl::posix::RL_DIR* d = p_.opendir(path.c_str());
      if (!d) {
        status = complain_errno("ls: cannot open directory '" + path + "'");
        continue;
      }
      std::vector<std::string> names;
      errno = 0;
      while (struct dirent* e = p_.readdir(d)) {
        std::string n = e->d_name;
        if (all || n[0] != '.') names.push_back(n);
      }
      if (errno != 0) status = complain_errno("ls: reading directory '" + path + "'");
      (void)p_.closedir(d);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) {
        if (!lng) {
          out.put(n + "\n");
          continue;
        }
        struct stat es;
        if (p_.stat(join(path, n).c_str(), &es) != 0) {
          status = complain_errno("ls: cannot access '" + join(path, n) + "'");
          continue;
        }
        out.put(long_line(n, es));
      }
    }
    return status;
  }

  int cat(const std::vector<std::string>& args, Out& out) {
    return each(args, "cat", [&](const std::string& f) {
      int fd = p_.open(f.c_str(), O_RDONLY);
      if (fd < 0) return complain_errno("cat: " + f);
      std::vector<char> buf(rl::fs::kDataBytes);
      ssize_t n;
      while ((n = p_.read(fd, buf.data(), buf.size())) > 0) out.put(buf.data(), static_cast<size_t>(n));
      int s = n < 0 ? complain_errno("cat: " + f) : 0;
      (void)p_.close(fd);
      return s;
    });
  }

  int echo(const std::vector<std::string>& args, Out& out) {
    std::string s;
    for (size_t i = 0; i < args.size(); ++i) s += (i ? " " : "") + args[i];
    out.put(s + "\n");
    return 0;
  }

  int touch(const std::vector<std::string>& args) {
    return each(args, "touch", [&](const std::string& f) {
      int fd = p_.open(f.c_str(), O_WRONLY | O_CREAT, 0644);
      if (fd < 0) return complain_errno("touch: cannot touch '" + f + "'");
      (void)p_.close(fd);
      return 0;
    });
  }

  int mkdir(std::vector<std::string> args) {
    std::string opts;
    if (!options(args, "p", &opts, "mkdir")) return 1;
    bool parents = !opts.empty();
    return each(args, "mkdir", [&](const std::string& d) {
      if (!parents) return p_.mkdir(d.c_str(), 0755) == 0 ? 0 : complain_errno("mkdir: cannot create directory '" + d + "'");
      // -p: every missing prefix, and no error for ones that exist.
      for (size_t i = 1; i <= d.size(); ++i) {
        if (i < d.size() && d[i] != '/') continue;
        std::string prefix = d.substr(0, i);
        struct stat st;
        if (p_.stat(prefix.c_str(), &st) == 0) {
          if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return complain_errno("mkdir: cannot create directory '" + d + "'");
          }
          continue;
        }
        if (p_.mkdir(prefix.c_str(), 0755) != 0) return complain_errno("mkdir: cannot create directory '" + d + "'");
      }
      return 0;
    });
  }

  // rm -r: children first.
  int remove_tree(const std::string& path) {
    struct stat st;
    if (p_.stat(path.c_str(), &st) != 0) return complain_errno("rm: cannot remove '" + path + "'");
    if (!S_ISDIR(st.st_mode))
      return p_.unlink(path.c_str()) == 0 ? 0 : complain_errno("rm: cannot remove '" + path + "'");
    rl::posix::RL_DIR* d = p_.opendir(path.c_str());
    if (!d) return complain_errno("rm: cannot remove '" + path + "'");
    std::vector<std::string> names;
    while (struct dirent* e = p_.readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    (void)p_.closedir(d);
    int status = 0;
    for (const auto& n : names)
      if (int s = remove_tree(join(path, n))) status = s;
    if (status == 0 && p_.rmdir(path.c_str()) != 0) status = complain_errno("rm: cannot remove '" + path + "'");
    return status;
  }

  int rm(std::vector<std::string> args) {
    std::string opts;
    if (!options(args, "rRf", &opts, "rm")) return 1;
    bool recursive = opts.find_first_of("rR") != std::string::npos;
    return each(args, "rm", [&](const std::string& f) {
      if (recursive) return remove_tree(f);
      if (p_.unlink(f.c_str()) == 0) return 0;
      if (errno == EISDIR) return complain("rm: cannot remove '" + f + "': Is a directory", 1);
      return complain_errno("rm: cannot remove '" + f + "'");
    });
  }

  int mv(const std::vector<std::string>& args) {
    if (args.size() != 2) return complain("mv: usage: mv FROM TO", 1);
    std::string to = args[1];
    struct stat st;
    if (p_.stat(to.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      // Into the directory, as mv does: TO/basename(FROM).
      std::string from = args[0];
      while (from.size() > 1 && from.back() == '/') from.pop_back();
      size_t slash = from.rfind('/');
      to = join(to, slash == std::string::npos ? from : from.substr(slash + 1));
    }
    if (p_.rename(args[0].c_str(), to.c_str()) == 0) return 0;
    return complain_errno("mv: cannot move '" + args[0] + "' to '" + to + "'");
  }

  int stat(const std::string& path, Out& out) {
    struct stat st;
    if (p_.stat(path.c_str(), &st) != 0) return complain_errno("stat: cannot stat '" + path + "'");
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "  File: %s\n  Size: %lld\tBlocks: %lld\tIO Block: %ld\t%s\n"
                  " Inode: %llu\tLinks: %lu\tAccess: (%04o/%s)\n"
                  "Modify: %s.%09ld\nChange: %s.%09ld\n",
                  path.c_str(), static_cast<long long>(st.st_size), static_cast<long long>(st.st_blocks),
                  static_cast<long>(st.st_blksize), S_ISDIR(st.st_mode) ? "directory" : "regular file",
                  static_cast<unsigned long long>(st.st_ino), static_cast<unsigned long>(st.st_nlink),
                  st.st_mode & 07777, mode_string(st.st_mode).c_str(), time_string(st.st_mtim).c_str(),
                  st.st_mtim.tv_nsec, time_string(st.st_ctim).c_str(), st.st_ctim.tv_nsec);
    out.put(buf);
    return 0;
  }

  int df(Out& out) {
    rl::fs::FsStats s{};
    if (p_.statfs(&s) != 0) return complain_errno("df");
    char buf[512];
    uint64_t used = s.blocks - s.blocks_free;
    std::snprintf(buf, sizeof buf,
                  "%10s %10s %10s %4s %8s %8s %8s\n"
                  "%10llu %10llu %10llu %3llu%% %8llu %8llu %8llu\n"
                  "log: %llu commits carrying %llu operations; cache: %llu hits, %llu misses; "
                  "disk: %llu reads, %llu writes, %llu flushes; replayed at mount: %llu blocks\n",
                  "4K-blocks", "Used", "Available", "Use%", "Inodes", "IUsed", "IFree",
                  static_cast<unsigned long long>(s.blocks), static_cast<unsigned long long>(used),
                  static_cast<unsigned long long>(s.blocks_free),
                  static_cast<unsigned long long>(s.blocks ? (used * 100 + s.blocks - 1) / s.blocks : 0),
                  static_cast<unsigned long long>(s.inodes),
                  static_cast<unsigned long long>(s.inodes - s.inodes_free),
                  static_cast<unsigned long long>(s.inodes_free), static_cast<unsigned long long>(s.commits),
                  static_cast<unsigned long long>(s.ops_committed),
                  static_cast<unsigned long long>(s.cache_hits), static_cast<unsigned long long>(s.cache_misses),
                  static_cast<unsigned long long>(s.disk_reads), static_cast<unsigned long long>(s.disk_writes),
                  static_cast<unsigned long long>(s.disk_flushes),
                  static_cast<unsigned long long>(s.replayed_at_mount));
    out.put(buf);
    return 0;
  }

  int cd(const std::vector<std::string>& args) {
    if (args.size() > 1) return complain("cd: too many arguments", 1);
    std::string dir = args.empty() ? "/" : args[0];
    return p_.chdir(dir.c_str()) == 0 ? 0 : complain_errno("cd: " + dir);
  }

  int put(const std::vector<std::string>& args) {
    if (args.size() != 2) return complain("put: usage: put HOSTFILE PATH", 1);
    int in = ::open(args[0].c_str(), O_RDONLY);
    if (in < 0) return complain_errno("put: cannot open host file '" + args[0] + "'");
    int fd = p_.open(args[1].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      ::close(in);
      return complain_errno("put: cannot create '" + args[1] + "'");
    }
    std::vector<char> buf(rl::fs::kDataBytes);
    int status = 0;
    ssize_t n;
    while (status == 0 && (n = ::read(in, buf.data(), buf.size())) != 0) {
      if (n < 0) {
        status = complain_errno("put: reading '" + args[0] + "'");
        break;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = p_.write(fd, buf.data() + off, static_cast<size_t>(n - off));
        if (w < 0) {
          status = complain_errno("put: writing '" + args[1] + "'");
          break;
        }
        off += w;
      }
    }
    ::close(in);
    (void)p_.close(fd);
    return status;
  }

  int get(const std::vector<std::string>& args) {
    if (args.size() != 2) return complain("get: usage: get PATH HOSTFILE", 1);
    int fd = p_.open(args[0].c_str(), O_RDONLY);
    if (fd < 0) return complain_errno("get: cannot open '" + args[0] + "'");
    int out = ::open(args[1].c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0) {
      (void)p_.close(fd);
      return complain_errno("get: cannot create host file '" + args[1] + "'");
    }
    std::vector<char> buf(rl::fs::kDataBytes);
    int status = 0;
    ssize_t n;
    while ((n = p_.read(fd, buf.data(), buf.size())) > 0) {
      if (::write(out, buf.data(), static_cast<size_t>(n)) != n) {
        status = complain_errno("get: writing '" + args[1] + "'");
        break;
      }
    }
    if (n < 0) status = complain_errno("get: reading '" + args[0] + "'");
    (void)p_.close(fd);
    if (::close(out) != 0 && status == 0) status = complain_errno("get: writing '" + args[1] + "'");
    return status;
  }

  Process& p_;
  int exit_ = -1;   // set by `exit`
  int last_ = 0;    // status of the last failed command, for a bare `exit`
};

}  // namespace

int main(int argc, char** argv) {
  std::string image, script, through = "shadow";
  uint64_t create = 0;
  bool have_script = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* what) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "rl-sh: %s needs a value\n%s", what, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-c") {
      script = value("-c");
      have_script = true;
    } else if (a == "--create-size") {
      std::string v = value("--create-size");
      if (!rl::fs::parse_size(v, &create) || create == 0) {
        std::fprintf(stderr, "rl-sh: --create-size %s: give a size such as 64M or 1G\n", v.c_str());
        return 2;
      }
    } else if (a == "--through") {
      through = value("--through");
    } else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "rl-sh: unknown option %s\n%s", a.c_str(), kUsage);
      return 2;
    } else if (image.empty()) {
      image = a;
    } else {
      std::fprintf(stderr, "rl-sh: one image only (got %s and %s)\n%s", image.c_str(), a.c_str(), kUsage);
      return 2;
    }
  }
  if (image.empty()) {
    std::fprintf(stderr, "rl-sh: which image?\n%s", kUsage);
    return 2;
  }
  if (create && access(image.c_str(), F_OK) == 0) {
    std::fprintf(stderr, "rl-sh: %s exists: --create-size makes a new image; remove it or drop the option\n",
                 image.c_str());
    return 1;
  }

  std::string err;
  rl::fs::DiskOptions dopt;
  dopt.through = through;
  dopt.create_bytes = create;
  auto disk = rl::fs::Disk::open(image, dopt, &err);
  if (!disk) {
    std::fprintf(stderr, "rl-sh: %s\n", err.c_str());
    return 1;
  }
  if (create && rl::fs::format(disk->bdev(), rl::fs::FormatOptions{}, &err) != 0) {
    std::fprintf(stderr, "rl-sh: cannot format %s: %s\n", image.c_str(), err.c_str());
    return 1;
  }
  auto mount = rl::fs::Mount::open(*disk, rl::fs::MountOptions{}, &err);
  if (!mount) {
    std::fprintf(stderr, "rl-sh: %s\n", err.c_str());
    return 1;
  }

  int status = 0;
  {
    Process proc(*mount);
    Shell sh(proc);
    if (have_script) {
      sh.run_text(script, &status);
    } else {
      bool tty = isatty(0);
      std::string line;
      while (!sh.exiting()) {
        if (tty) {
          char cwd[rl::fs::kPathMax];
          std::printf("rl-sh:%s$ ", proc.getcwd(cwd, sizeof cwd));
          std::fflush(stdout);
        }
        if (!std::getline(std::cin, line)) break;
        int s = 0;
        sh.run_text(line, &s);
        if (s != 0) status = s;
      }
    }
    if (sh.exiting()) status = sh.exit_status();
  }
  mount.reset();   // a clean unmount: syncs
  return status;
}
