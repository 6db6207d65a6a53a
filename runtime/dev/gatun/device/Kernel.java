package dev.gatun.device;

/**
 * A kernel by name: {@code module} is its family's file in kernels/ (and fatbin name), {@code name}
 * its {@code extern "C"} entry point.
 */
public record Kernel(String module, String name) {}
