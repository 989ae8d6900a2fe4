// root: the directory relative file paths of other plugins resolve against.
#include <sys/stat.h>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::root {
namespace {

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() != 1) {
    *error = "plugin/root: " + config::ArgErrorAt(d.name);
    return nullptr;
  }
  struct stat st;
  if (stat(d.args[0].text.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    *error = "plugin/root: " +
             config::ErrorAt(d.args[0], "unable to access root path '" + d.args[0].text + "'");
    return nullptr;
  }
  ctx.root = d.args[0].text;
  return nullptr;
}

const Registrar kRegistrar({"root", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::root
