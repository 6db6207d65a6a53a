package dev.gatun.tensor;

import dev.gatun.device.CachingAllocator;
import dev.gatun.device.Device;
import dev.gatun.testing.Seeds;
import dev.gatun.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@org.junit.jupiter.api.Tag("device")
class TensorTest {
    static List<Device> devices() { return TestDevices.all(); }

    @ParameterizedTest
    @MethodSource("devices")
    void roundTripsEveryDtype(Device device) {
        Random random = Seeds.random("roundtrip" + device);
        float[] values = Seeds.gaussian(random, 37, 10);
        for (DType t : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            try (Tensor x = Tensor.of(device, t, values, 37)) {
                float[] back = x.toFloatArray();
                for (int i = 0; i < values.length; i++) assertEquals(t.round(values[i]), back[i], t + " element " + i);
            }
        }
        int[] ints = random.ints(11).toArray();
        long[] longs = random.longs(5).toArray();
        try (Tensor i = Tensor.of(device, ints, 11); Tensor l = Tensor.of(device, longs, 5)) {
            assertArrayEquals(ints, i.toIntArray());
            assertArrayEquals(longs, l.toLongArray());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void viewsShareMemoryWithoutCopies(Device device) {
        float[] v = iota(24);
        try (Tensor x = Tensor.of(device, DType.F32, v, 2, 3, 4);
             Tensor flat = x.reshape(6, -1);
             Tensor cols = x.slice(2, 1, 3);
             Tensor t = x.transpose(1, 2)) {
            assertArrayEquals(new long[] {6, 4}, flat.shape());
            assertArrayEquals(new float[] {1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22}, cols.toFloatArray());
            assertEquals(x.dataAddress() + 4, cols.dataAddress());
            assertArrayEquals(new long[] {2, 4, 3}, t.shape());
            assertEquals(4f, t.toFloatArray()[1]); // t[0][0][1] = x[0][1][0]
            assertTrue(!cols.isContiguous() && !t.isContiguous());
            assertThrows(IllegalArgumentException.class, () -> t.reshape(24));
            flat.copyFrom(new float[24]);
            assertEquals(0f, x.toFloatArray()[23], "a write through a view shows in the base");
        }
    }

    /** 0, 1, ..., n - 1: each element names its own offset. */
    private static float[] iota(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = i;
        return v;
    }

    @Test
    void memoryIsFreedWhenTheLastViewCloses() {
        Device device = TestDevices.all().getFirst();
        long before = device.allocator().stats().inUseBytes();
        Tensor x = Tensor.empty(device, DType.F32, 1000);
        long taken = device.allocator().stats().inUseBytes() - before;
        assertTrue(taken >= 4000 && taken <= CachingAllocator.sizeClass(4000), "1000 fp32 take 4000 bytes (or their size class): " + taken);
        Tensor view = x.slice(0, 10, 20);
        x.close();
        assertTrue(device.allocator().stats().inUseBytes() > before, "the view keeps the storage");
        view.toFloatArray();
        view.close();
        assertEquals(before, device.allocator().stats().inUseBytes());
        assertThrows(IllegalStateException.class, view::dataAddress);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void slicesAtTheEdgesOfADimension(Device device) {
        float[] v = iota(24);
        try (Tensor x = Tensor.of(device, DType.F32, v, 2, 3, 4);
             Tensor first = x.slice(0, 0, 1);
             Tensor last = x.slice(0, 1, 2);
             Tensor whole = x.slice(1, 0, 3);
             Tensor empty = x.slice(2, 4, 4)) {
            assertArrayEquals(java.util.Arrays.copyOfRange(v, 0, 12), first.toFloatArray());
            assertArrayEquals(java.util.Arrays.copyOfRange(v, 12, 24), last.toFloatArray());
            assertEquals(x.dataAddress() + 12 * 4, last.dataAddress(), "start x stride of dimension 0, in bytes");
            assertArrayEquals(v, whole.toFloatArray());
            assertArrayEquals(new long[] {2, 3, 0}, empty.shape());
            assertEquals(0, empty.toFloatArray().length);
            assertThrows(IllegalArgumentException.class, () -> x.slice(0, -1, 1));
            assertThrows(IllegalArgumentException.class, () -> x.slice(0, 1, 0));
            assertThrows(IllegalArgumentException.class, () -> x.slice(0, 0, 3));
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void deviceCopiesFillsAndEmptyTensors(Device device) {
        Random random = Seeds.random("device copy" + device);
        float[] values = Seeds.gaussian(random, 300, 1);
        try (Tensor a = Tensor.of(device, DType.F32, values, 3, 100);
             Tensor b = Tensor.empty(device, DType.F32, 3, 100);
             Tensor none = Tensor.empty(device, DType.F32, 0, 100);
             Tensor noneToo = Tensor.empty(device, DType.F32, 0, 100)) {
            b.copyFrom(a);
            assertArrayEquals(values, b.toFloatArray());
            b.fillBytes((byte) 0xFF);
            for (float x : b.toFloatArray()) assertTrue(Float.isNaN(x), "0xFF bytes are NaN poison");
            b.fillBytes((byte) 0);
            for (float x : b.toFloatArray()) assertEquals(0f, x);
            assertArrayEquals(values, a.toFloatArray(), "the source is untouched");
            noneToo.copyFrom(none);
            none.fillBytes((byte) 1);
            assertEquals(0, none.toFloatArray().length);
            try (Tensor column = a.slice(1, 0, 1); Tensor target = Tensor.empty(device, DType.F32, 3, 1)) {
                assertThrows(IllegalArgumentException.class, () -> target.copyFrom(column), "a strided source");
                assertThrows(IllegalArgumentException.class, () -> column.fillBytes((byte) 0));
            }
            // one element is contiguous whatever its strides: it takes host copies
            try (Tensor one = a.slice(0, 1, 2).slice(1, 5, 6)) {
                one.copyFrom(new float[] {42f});
                assertEquals(42f, a.toFloatArray()[105]);
            }
            try (Tensor rows = a.reshape(-1, 50)) {
                assertArrayEquals(new long[] {6, 50}, rows.shape());
            }
        }
    }

    @Test
    void aClosedTensorMakesNoViews() {
        Device device = TestDevices.all().getFirst();
        Tensor x = Tensor.empty(device, DType.F32, 4, 4);
        try (Tensor keep = x.slice(0, 0, 2)) {
            x.close();
            // the storage is still alive through `keep`, but x itself is closed
            assertThrows(IllegalStateException.class, () -> x.slice(0, 0, 1));
            assertThrows(IllegalStateException.class, () -> x.reshape(16));
            assertThrows(IllegalStateException.class, () -> x.transpose(0, 1));
            assertThrows(IllegalStateException.class, x::toFloatArray);
            assertEquals(8, keep.toFloatArray().length);
        }
    }

    @Test
    void hostCopiesCheckTheirDtypeAndLength() {
        Device device = TestDevices.all().getFirst();
        try (Tensor f = Tensor.empty(device, DType.F32, 2, 3);
             Tensor i = Tensor.empty(device, DType.I32, 6);
             Tensor l = Tensor.empty(device, DType.I64, 6)) {
            assertThrows(IllegalArgumentException.class, () -> i.copyFrom(new float[6]), "fp values into int32");
            assertThrows(IllegalArgumentException.class, i::toFloatArray);
            assertThrows(IllegalArgumentException.class, () -> i.copyFrom(new int[5]));
            assertThrows(IllegalArgumentException.class, () -> i.copyFrom(new long[6]));
            assertThrows(IllegalArgumentException.class, () -> l.copyFrom(new int[6]));
            assertThrows(IllegalArgumentException.class, () -> l.copyFrom(new long[7]));
            assertThrows(IllegalArgumentException.class, f::toIntArray);
            assertThrows(IllegalArgumentException.class, f::toLongArray);
            assertThrows(IllegalArgumentException.class, () -> f.copyFrom(l), "another dtype");
            try (Tensor g = Tensor.empty(device, DType.F32, 3, 2)) {
                assertThrows(IllegalArgumentException.class, () -> f.copyFrom(g), "another shape");
            }
        }
    }

    @Test
    void badShapesAndTypesAreRefused() {
        Device device = TestDevices.all().getFirst();
        assertThrows(IllegalArgumentException.class, () -> Tensor.empty(device, DType.F32, 2, -1));
        try (Tensor x = Tensor.empty(device, DType.F32, 2, 3)) {
            assertThrows(IllegalArgumentException.class, () -> x.copyFrom(new float[5]));
            assertThrows(IllegalArgumentException.class, () -> x.copyFrom(new int[6]));
            assertThrows(IllegalArgumentException.class, () -> x.slice(1, 2, 4));
            assertThrows(IllegalArgumentException.class, () -> x.reshape(4, 2));
            assertThrows(IllegalArgumentException.class, () -> x.shape(2));
        }
        assertThrows(IllegalArgumentException.class, () -> DType.parse("fp8"));
        for (DType t : DType.values()) assertEquals(t, DType.parse(t.id()));
        assertTrue(DType.F16.isFloatingPoint() && !DType.I32.isFloatingPoint() && !DType.I64.isFloatingPoint());
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, DType.BF16.round(1.0f + 0x1p-9f), "a tie rounds to the even neighbour");
        assertEquals(1.0f + 0x1p-7f, DType.BF16.round(1.0f + 0x1p-7f + 0x1p-9f + 0x1p-12f));
        assertTrue(Float.isNaN(DType.BF16.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, DType.BF16.round(Float.MAX_VALUE));
        // a tie whose lower neighbour is odd rounds up, to the even one; the same below zero
        assertEquals(1.0f + 0x1p-6f, DType.BF16.round(1.0f + 0x1p-7f + 0x1p-8f));
        assertEquals(-(1.0f + 0x1p-6f), DType.BF16.round(-(1.0f + 0x1p-7f + 0x1p-8f)));
        assertEquals(1.0f + 0x1p-7f, DType.BF16.round(1.0f + 0x1p-7f + 0x1p-9f), "below the half way point");
        assertEquals((short) 0x7f80, DType.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xff80, DType.floatToBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7fc0, DType.floatToBf16(Float.intBitsToFloat(0x7f800001)), "a signalling NaN comes back quiet");
    }
}
