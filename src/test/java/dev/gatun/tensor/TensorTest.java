package dev.gatun.tensor;

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
        float[] v = new float[24];
        for (int i = 0; i < v.length; i++) v[i] = i;
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

    @Test
    void memoryIsFreedWhenTheLastViewCloses() {
        Device device = TestDevices.all().getFirst();
        long before = device.allocator().stats().inUseBytes();
        Tensor x = Tensor.empty(device, DType.F32, 1000);
        Tensor view = x.slice(0, 10, 20);
        x.close();
        assertTrue(device.allocator().stats().inUseBytes() > before, "the view keeps the storage");
        view.toFloatArray();
        view.close();
        assertEquals(before, device.allocator().stats().inUseBytes());
        assertThrows(IllegalStateException.class, view::dataAddress);
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
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, DType.BF16.round(1.0f + 0x1p-9f), "a tie rounds to the even neighbour");
        assertEquals(1.0f + 0x1p-7f, DType.BF16.round(1.0f + 0x1p-7f + 0x1p-9f + 0x1p-12f));
        assertTrue(Float.isNaN(DType.BF16.round(Float.NaN)));
        assertEquals(Float.POSITIVE_INFINITY, DType.BF16.round(Float.MAX_VALUE));
    }
}
