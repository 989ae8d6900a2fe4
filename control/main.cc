// warpdns: CoreDNS's command line, a Corefile in, DNS served until SIGTERM.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "config/corefile.h"
#include "config/io.h"
#include "control/instance.h"
#include "control/log.h"
#include "control/reload_watch.h"
#include "control/runtime.h"
#include "slowpath/chain/plugin.h"

namespace warpdns::control {
namespace {

constexpr uint16_t kEmbeddedDefaultPort = 1053;

struct Flags {
  std::string conf;
  std::string pidfile;
  int dns_port = -1;  // -1: not given
  bool version = false;
  bool plugins = false;
  bool quiet = false;
};

void Usage() {
  fprintf(stderr,
          "Usage of warpdns:\n"
          "  -conf string\n\tCorefile to load (default \"Corefile\")\n"
          "  -dns.port string\n\tDefault port (default \"53\")\n"
          "  -p string\n\tDefault port (alias of -dns.port)\n"
          "  -pidfile string\n\tPath to write pid file\n"
          "  -plugins\n\tList installed plugins\n"
          "  -quiet\n\tQuiet mode (no initialization output)\n"
          "  -version\n\tShow version\n");
}

// Go flag syntax as CoreDNS accepts it: -name value, -name=value, --name.
bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      fprintf(stderr, "unexpected argument %s\n", arg.c_str());
      return false;
    }
    arg = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_value = true;
    }
    auto take = [&](std::string* out) {
      if (has_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) {
        fprintf(stderr, "flag needs an argument: -%s\n", arg.c_str());
        return false;
      }
      *out = argv[++i];
      return true;
    };
    if (arg == "conf") {
      if (!take(&f->conf)) return false;
    } else if (arg == "pidfile") {
      if (!take(&f->pidfile)) return false;
    } else if (arg == "dns.port" || arg == "p") {
      std::string p;
      if (!take(&p)) return false;
      char* end = nullptr;
      long port = strtol(p.c_str(), &end, 10);
      if (p.empty() || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "invalid value \"%s\" for flag -%s: invalid port\n", p.c_str(), arg.c_str());
        return false;
      }
      f->dns_port = static_cast<int>(port);
    } else if (arg == "version") {
      f->version = true;
    } else if (arg == "plugins") {
      f->plugins = true;
    } else if (arg == "quiet") {
      f->quiet = true;
    } else if (arg == "h" || arg == "help") {
      Usage();
      exit(0);
    } else {
      fprintf(stderr, "flag provided but not defined: -%s\n", arg.c_str());
      Usage();
      return false;
    }
  }
  return true;
}

bool IsFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The shipped example (examples/Corefile's zone) next to the binary in the
// build tree or in the installed share directory.
std::string FindExamples() {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  std::vector<std::string> candidates;
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    dir.resize(dir.rfind('/'));
    candidates = {dir + "/examples", dir + "/../examples", dir + "/../../examples",
                  dir + "/../share/warpdns/examples"};
  }
  candidates.push_back("/usr/share/warpdns/examples");
  for (const std::string& c : candidates) {
    if (IsFile(c + "/db.example.org")) return c;
  }
  return "";
}

// The embedded default: socket mode on loopback, an unprivileged port, the
// sample zone when it can be found, whoami for everything else.
std::string EmbeddedCorefile(uint16_t port) {
  std::string examples = FindExamples();
  std::string p = std::to_string(port);
  std::string text;
  if (!examples.empty()) {
    text += "example.org:" + p + " {\n    bind 127.0.0.1\n    root " + examples +
            "\n    file db.example.org\n    log\n    errors\n}\n";
  }
  text += ".:" + p + " {\n    bind 127.0.0.1\n    whoami\n    log\n    errors\n}\n";
  return text;
}

std::string BuildInfo() {
  return std::string("linux/") +
#if defined(__x86_64__)
         "amd64"
#elif defined(__aarch64__)
         "arm64"
#else
         "unknown"
#endif
         + ", g++ " + __VERSION__;
}

int Main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) return 2;
  if (flags.version) {
    printf("warpdns-%s\n%s\n", std::string(Version()).c_str(), BuildInfo().c_str());
    return 0;
  }
  if (flags.plugins) {
    printf("Server types:\n  dns\n\nCaddyfile loaders:\n  flag\n  default\n\nOther plugins:\n");
    for (std::string_view name : slowpath::RegisteredPluginNames()) {
      printf("  dns.%.*s\n", static_cast<int>(name.size()), name.data());
    }
    return 0;
  }

  // Signals are taken synchronously by this thread; every other thread
  // inherits the mask and never sees them.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGTERM, SIGINT, SIGUSR1, SIGHUP, SIGQUIT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  config::ParseOptions parse_options;
  if (flags.dns_port > 0) parse_options.default_dns_port = static_cast<uint16_t>(flags.dns_port);
  // The Corefile source: -conf, else ./Corefile, else the embedded default
  // (which is never reloaded: it has no file).
  std::string path = flags.conf;
  if (path.empty() && IsFile("Corefile")) path = "Corefile";
  std::string embedded;
  if (path.empty()) {
    uint16_t port = flags.dns_port > 0 ? static_cast<uint16_t>(flags.dns_port)
                                       : kEmbeddedDefaultPort;
    embedded = EmbeddedCorefile(port);
  }

  // The I/O plan is read once, from the first configuration: it decides
  // what the process is (EAL, ports, cores) before anything listens.
  RuntimeOptions runtime_options;
  std::vector<uint16_t> dns_ports;
  {
    std::string error;
    std::optional<config::Corefile> first =
        path.empty() ? config::ParseCorefile(embedded, "embedded default", parse_options, &error)
                     : config::ParseCorefileFile(path, parse_options, &error);
    std::optional<config::IoPlan> io;
    if (first) io = config::ParseIoPlan(first->global ? &*first->global : nullptr, &error);
    if (!io) {
      fprintf(stderr, "%s\n", error.c_str());
      return 1;
    }
    runtime_options.io = std::move(*io);
    for (const config::ServerBlock& block : first->blocks) {
      for (const config::Address& a : block.addresses) {
        if (a.transport == "dns" &&
            std::find(dns_ports.begin(), dns_ports.end(), a.port) == dns_ports.end()) {
          dns_ports.push_back(a.port);
        }
      }
    }
  }
  Runtime runtime(runtime_options);
  if (std::string error; !runtime.CreateFastPath(dns_ports, &error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  auto parse = [&](std::string* error) {
    return path.empty()
               ? config::ParseCorefile(embedded, "embedded default", parse_options, error)
               : config::ParseCorefileFile(path, parse_options, error);
  };
  // Parses, builds aside and activates; on any error the running
  // configuration stays. Returns the files read and the canonical form (for
  // the reload checksum).
  auto load = [&](std::vector<std::string>* files, std::string* canonical,
                  std::string* error) -> bool {
    std::optional<config::Corefile> corefile = parse(error);
    if (!corefile) return false;
    std::shared_ptr<Instance> instance = Instance::Build(
        *corefile, [&](const ListenKey& k) { return runtime.CountersFor(k); }, error);
    if (!instance || !runtime.Activate(instance, error)) return false;
    *files = corefile->files;
    *canonical = corefile->canonical;
    return true;
  };
  const ReloadWatch::Parse canonical_now = [&]() -> std::optional<std::string> {
    std::optional<config::Corefile> corefile = parse(nullptr);
    if (!corefile) return std::nullopt;
    return corefile->canonical;
  };

  std::string error;
  std::vector<std::string> files;
  std::string canonical;
  if (!load(&files, &canonical, &error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  if (!runtime.StartFastPath(&error)) {
    fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  // Hashed before anything is announced: a change made right after the
  // banner must count as a change.
  ReloadWatch watch(canonical_now, files, canonical);
  if (!path.empty()) runtime.SetConfigHash(watch.hash());
  if (!flags.pidfile.empty()) {
    std::ofstream(flags.pidfile) << getpid() << "\n";
  }
  // CoreDNS's reload plugin says what it runs at every start of an instance
  // (at start-up between the listeners and the version, as CoreDNS prints it).
  auto log_running = [&] {
    if (!path.empty() && runtime.current()->reload_interval_ms() > 0) {
      LogLine("[INFO] plugin/reload: Running configuration SHA512 = " + watch.hash());
    }
  };
  if (!flags.quiet) {
    for (const std::string& line : runtime.current()->listen_lines()) LogLine(line);
  }
  log_running();
  if (!flags.quiet) {
    LogLine("warpdns-" + std::string(Version()));
    LogLine(BuildInfo());
  }
  FlushLog();
  auto reload = [&](const std::string& why) {
    LogLine("[INFO] " + why + "Reloading");
    std::vector<std::string> new_files;
    std::string new_canonical;
    std::string err;
    if (!load(&new_files, &new_canonical, &err)) {
      runtime.CountReloadFailure();
      // CoreDNS: the plugin's line, the error from starting the new instance.
      LogLine("[ERROR] " + (why.empty() ? std::string("plugin/reload: ") : why) +
              "Corefile changed but reload failed: " + err);
      watch.Remember();  // do not retry the same broken content every interval
      // As CoreDNS, the version metric names what was tried.
      if (std::optional<std::string> tried = canonical_now()) {
        runtime.SetConfigHash(ReloadWatch::Sha512Hex(*tried));
      }
      return;
    }
    watch = ReloadWatch(canonical_now, new_files, new_canonical);
    runtime.SetConfigHash(watch.hash());
    LogLine("[INFO] " + why + "Reloading complete");
    log_running();
  };

  for (;;) {
    timespec tick{1, 0};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    runtime.ReleaseRetired();
    if (sig < 0) {
      const std::shared_ptr<Instance>& current = runtime.current();
      if (!path.empty() && current->reload_interval_ms() > 0 &&
          watch.Due(current->reload_interval_ms(), current->reload_jitter_ms()) &&
          watch.Changed()) {
        reload("");
      }
      continue;
    }
    if (sig == SIGHUP) continue;
    if (sig == SIGQUIT) _exit(0);
    if (sig == SIGUSR1) {
      if (path.empty()) {
        LogLine("[INFO] SIGUSR1: the embedded default has no Corefile to reload");
      } else {
        reload("SIGUSR1: ");
      }
      continue;
    }
    LogLine(std::string("[INFO] ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ": Shutting down");
    break;
  }
  runtime.Shutdown();
  if (!flags.pidfile.empty()) unlink(flags.pidfile.c_str());
  FlushLog();
  return 0;
}

}  // namespace
}  // namespace warpdns::control

int main(int argc, char** argv) { return warpdns::control::Main(argc, argv); }
