package dev.gatun.device;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Kernel arguments packed once into the {@code void**} that cuLaunchKernel and cuemu take: one
 * pointer per parameter, each to a slot holding the value. Java types map to C types exactly:
 * {@code Integer} → int, {@code Long} → long long, {@code Float} → float, {@code Double} → double,
 * {@link DeviceData} → a device pointer.
 */
public final class KernelArgs {
    private final MemorySegment pointers;
    private final int[] sizes;

    private KernelArgs(MemorySegment pointers, int[] sizes) {
        this.pointers = pointers;
        this.sizes = sizes;
    }

    /** Packs {@code args} into memory owned by {@code arena}; checks that pointers live on {@code device}. */
    public static KernelArgs pack(Arena arena, Device device, String kernel, Object... args) {
        MemorySegment pointers = arena.allocate(ADDRESS, Math.max(1, args.length));
        int[] sizes = new int[args.length];
        for (int i = 0; i < args.length; i++) {
            MemorySegment slot = switch (args[i]) {
                case Integer v -> arena.allocateFrom(ValueLayout.JAVA_INT, v);
                case Long v -> arena.allocateFrom(ValueLayout.JAVA_LONG, v);
                case Float v -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
                case Double v -> arena.allocateFrom(ValueLayout.JAVA_DOUBLE, v);
                case DeviceData data -> {
                    if (data.device() != device)
                        throw new IllegalArgumentException(kernel + ": argument " + i + " lives on "
                                + data.device() + ", the launch is on " + device);
                    yield arena.allocateFrom(ValueLayout.JAVA_LONG, data.dataAddress());
                }
                case null -> throw new IllegalArgumentException(kernel + ": argument " + i + " is null");
                default -> throw new IllegalArgumentException(kernel + ": argument " + i + " has type "
                        + args[i].getClass().getSimpleName() + "; kernels take Integer, Long, Float, Double or device data");
            };
            sizes[i] = (int) slot.byteSize();
            pointers.setAtIndex(ADDRESS, i, slot);
        }
        return new KernelArgs(pointers, sizes);
    }

    /** The {@code void**}. */
    public MemorySegment pointers() { return pointers; }

    /** Byte size of each packed argument, to check against a kernel's parameter list. */
    public int[] sizes() { return sizes.clone(); }

    public int count() { return sizes.length; }
}
