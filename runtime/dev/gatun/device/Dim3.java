package dev.gatun.device;

/** Grid or block dimensions of a kernel launch. */
public record Dim3(int x, int y, int z) {
    public Dim3 {
        if (x < 1 || y < 1 || z < 1) throw new IllegalArgumentException("launch dimensions must be >= 1, got " + this);
    }

    public static Dim3 of(int x) { return new Dim3(x, 1, 1); }

    public long count() { return (long) x * y * z; }

    @Override
    public String toString() { return "(" + x + "," + y + "," + z + ")"; }
}
