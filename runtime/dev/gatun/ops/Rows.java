package dev.gatun.ops;

import dev.gatun.tensor.DType;
import dev.gatun.tensor.Tensor;

import java.util.Arrays;

/**
 * A tensor seen as {@code rows} rows of {@code cols} contiguous elements, {@code rowStride}
 * elements apart: the shape every row-wise op (softmax, norms, reductions) works on.
 */
record Rows(Tensor tensor, long rows, long cols, long rowStride) {
    DType dtype() { return tensor.dtype(); }

    /** Views {@code t} as rows over its last dimension, or says why it cannot be. */
    static Rows of(String op, String argument, Tensor t) {
        if (t.rank() == 0) throw new IllegalArgumentException(op + ": " + argument + " must have at least one dimension");
        int last = t.rank() - 1;
        long cols = t.shape(last);
        if (cols > 1 && t.stride(last) != 1)
            throw new IllegalArgumentException(op + ": " + argument + "'s last dimension must be contiguous (stride 1), got strides "
                    + Arrays.toString(t.strides()));
        for (int d = 0; d + 2 <= last; d++)
            if (t.shape(d) > 1 && t.stride(d) != t.stride(d + 1) * t.shape(d + 1))
                throw new IllegalArgumentException(op + ": " + argument + "'s leading dimensions must collapse into rows with one stride, got shape "
                        + Arrays.toString(t.shape()) + " strides " + Arrays.toString(t.strides()));
        long rows = t.numel() / Math.max(1, cols);
        if (cols == 0) rows = 0;
        long rowStride = last == 0 ? cols : t.stride(last - 1);
        return new Rows(t, rows, cols, rowStride);
    }
}
