package osstest

import "hash/crc64"

// crcTable is the ECMA-182 table OSS uses for x-oss-hash-crc64ecma.
var crcTable = crc64.MakeTable(crc64.ECMA)

// CRC64 returns the OSS CRC-64 (ECMA-182, reflected, inverted) of b.
func CRC64(b []byte) uint64 { return crc64.Checksum(b, crcTable) }

// gf2Times multiplies the 64×64 GF(2) matrix mat by the vector vec.
func gf2Times(mat *[64]uint64, vec uint64) uint64 {
	var sum uint64
	for i := 0; vec != 0; i, vec = i+1, vec>>1 {
		if vec&1 != 0 {
			sum ^= mat[i]
		}
	}
	return sum
}

// gf2Square sets square = mat·mat.
func gf2Square(square, mat *[64]uint64) {
	for n := range 64 {
		square[n] = gf2Times(mat, mat[n])
	}
}

// CombineCRC64 returns the CRC-64 of A‖B given crcA = CRC64(A), crcB = CRC64(B) and
// lenB = len(B), without the data: it applies lenB zero bytes to crcA in O(log lenB)
// matrix squarings, the way OSS combines the CRCs of multipart parts.
func CombineCRC64(crcA, crcB uint64, lenB int64) uint64 {
	if lenB <= 0 {
		return crcA
	}
	var even, odd [64]uint64
	// odd = operator for one zero bit.
	odd[0] = 0xC96C5795D7870F42 // reflected ECMA-182 polynomial
	row := uint64(1)
	for n := 1; n < 64; n++ {
		odd[n] = row
		row <<= 1
	}
	gf2Square(&even, &odd) // two zero bits
	gf2Square(&odd, &even) // four zero bits
	for {
		gf2Square(&even, &odd) // first pass: one zero byte
		if lenB&1 != 0 {
			crcA = gf2Times(&even, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
		gf2Square(&odd, &even)
		if lenB&1 != 0 {
			crcA = gf2Times(&odd, crcA)
		}
		lenB >>= 1
		if lenB == 0 {
			break
		}
	}
	return crcA ^ crcB
}
