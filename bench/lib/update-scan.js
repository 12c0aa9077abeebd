// Which clock range of which Yjs client a v1 update carries, without building
// structs or decoding strings: the load generator does this for every frame
// every client receives (N² per round of typing), and Y.parseUpdateMeta,
// which decodes each string through TextDecoder, made the generator the
// bottleneck. Layout as in yjs encoding.js (writeClientsStructs) and the
// content readers of its structs; contents it does not skip (ContentAny,
// ContentDoc) fall back to Y.parseUpdateMeta.
import * as decoding from 'lib0/decoding'
import * as Y from 'yjs'

const BIT6 = 32
const BIT7 = 64
const BIT8 = 128

/** The number of UTF-16 code units of a UTF-8 string of `length` bytes at `pos`. */
function utf16Length (bytes, pos, length) {
  let units = 0
  for (let i = pos; i < pos + length; i++) {
    const b = bytes[i]
    if ((b & 0xc0) !== 0x80) units += b >= 0xf0 ? 2 : 1
  }
  return units
}

function skipString (decoder) {
  const length = decoding.readVarUint(decoder)
  decoder.pos += length
}

/** The clock length of one struct whose info byte was just read, or -1 if it cannot be skipped here. */
function structLength (decoder, info) {
  const ref = info & 31
  if (ref === 0 || ref === 10) return decoding.readVarUint(decoder) // GC, Skip
  if ((info & BIT8) !== 0) { decoding.readVarUint(decoder); decoding.readVarUint(decoder) } // origin
  if ((info & BIT7) !== 0) { decoding.readVarUint(decoder); decoding.readVarUint(decoder) } // right origin
  if ((info & (BIT7 | BIT8)) === 0) {
    if (decoding.readVarUint(decoder) === 1) skipString(decoder) // parent is a root type key
    else { decoding.readVarUint(decoder); decoding.readVarUint(decoder) } // parent is an item ID
    if ((info & BIT6) !== 0) skipString(decoder) // parentSub
  }
  switch (ref) {
    case 1: return decoding.readVarUint(decoder) // ContentDeleted
    case 2: { // ContentJSON
      const length = decoding.readVarUint(decoder)
      for (let i = 0; i < length; i++) skipString(decoder)
      return length
    }
    case 3: skipString(decoder); return 1 // ContentBinary
    case 4: { // ContentString
      const length = decoding.readVarUint(decoder)
      const units = utf16Length(decoder.arr, decoder.pos, length)
      decoder.pos += length
      return units
    }
    case 5: skipString(decoder); return 1 // ContentEmbed
    case 6: skipString(decoder); skipString(decoder); return 1 // ContentFormat
    case 7: { // ContentType: XmlElement (3) and XmlHook (5) carry a node name
      const typeRef = decoding.readVarUint(decoder)
      if (typeRef === 3 || typeRef === 5) skipString(decoder)
      return 1
    }
    default: return -1
  }
}

/**
 * Calls `fn(client, from, to)` for every client's range of struct clocks in
 * the v1 `update` (`to` exclusive). Deletions are not looked at.
 */
export function forEachRange (update, fn) {
  const decoder = decoding.createDecoder(update)
  const clients = decoding.readVarUint(decoder)
  const ranges = []
  for (let c = 0; c < clients; c++) {
    const structs = decoding.readVarUint(decoder)
    const client = decoding.readVarUint(decoder)
    const from = decoding.readVarUint(decoder)
    let clock = from
    for (let s = 0; s < structs; s++) {
      const length = structLength(decoder, decoding.readUint8(decoder))
      if (length < 0) {
        const { from, to } = Y.parseUpdateMeta(update)
        for (const [client, end] of to) fn(client, from.get(client), end)
        return
      }
      clock += length
    }
    ranges.push(client, from, clock)
  }
  for (let i = 0; i < ranges.length; i += 3) fn(ranges[i], ranges[i + 1], ranges[i + 2])
}
