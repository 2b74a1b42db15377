{
  "targets": [
    {
      "target_name": "native_kernels",
      "sources": ["src/addon.cc", "src/norm.cc", "src/standardize.cc", "src/reduce.cc", "src/roi_align.cc", "src/deform.cc", "src/optim.cc", "src/pool.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-fopenmp"],
      "libraries": ["-ldnnl", "-fopenmp"]
    }
  ]
}
