# lit configuration for the gpt compiler's FileCheck tests.
import os
import lit.formats

config.name = "gpt"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gpt_obj_root, "test", "lit")

# Our tools first, then FileCheck / not / count from LLVM.
path = os.pathsep.join([config.gpt_tools_dir, config.llvm_tools_dir,
                        config.environment.get("PATH", os.environ["PATH"])])
config.environment["PATH"] = path
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))
