# cleave: thin wrapper over CMake. `make demo` and `make test` do all set-up.
BUILD ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps build test test-asan bench demo clean models cross-aarch64

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

# Test models exported from torchvision (random weights, seeded) for the
# whole-model comparisons with ONNX Runtime; cached in $(BUILD)/models.
models: deps
	@/usr/bin/python3 tools/export_torchvision.py --out $(BUILD)/models
	@/usr/bin/python3 tools/export_eltwise.py --out $(BUILD)/models

test: build models
	@bash tests/run_tests.sh $(BUILD)

test-asan: deps
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLEAVE_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)
	@bash tests/run_tests.sh build-asan --asan

bench: build models
	@bash bench/run_bench.sh $(BUILD)
	@echo "== planning time (issue 6 bars: resnet50 < 100 ms, 1000-node DAG < 1 s)"
	@$(BUILD)/plan_bench $(BUILD)/models/resnet18.onnx $(BUILD)/models/resnet50.onnx \
	  $(BUILD)/models/googlenet.onnx $(BUILD)/models/densenet121.onnx models/fmnist-resnet.onnx
	@echo "== server overhead (issue 7 bar: HTTP + decode < 5% of compute, resnet18 at batch 1)"
	@if [ -x $(BUILD)/serve_bench ]; then $(BUILD)/serve_bench $(BUILD)/models/resnet18.onnx; \
	else echo "serve_bench: not built (cleave built without the net module)"; fi

demo: build
	@bash scripts/demo.sh $(BUILD)

# The engine for 64-bit ARM (edge devices), reference kernels only; the ONNX
# node tests and the light unit tests under qemu (about 50x slower: the
# kernel sweeps would take hours; correctness only, no timing).
cross-aarch64: deps
	@bash scripts/cross-deps.sh
	cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCLEAVE_WITH_DNNL=OFF -DCMAKE_BUILD_TYPE=Release
	cmake --build build-aarch64 -j$(JOBS)
	@# OMP_THREAD_LIMIT=1: Debian 12's qemu-user hangs in any OpenMP team of 2+
	@# threads (a 5-line parallel-for program too); the kernels' thread splits
	@# are tested natively, the ARM code paths here on one thread.
	cd build-aarch64 && OMP_THREAD_LIMIT=1 ctest -j$(JOBS) -R "^node\.|^unit\.test_(plan|blocked|external|onnx_roundtrip|quant|data)$$" --timeout 300 | grep -E "tests passed|\*\*\*Failed|Timeout"

clean:
	rm -rf $(BUILD) build-asan build-aarch64
