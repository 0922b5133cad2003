"""The protobuf wire format written by hand (stdlib only), for bytes a generated message class
will not produce cheaply: a multi-megabyte payload resent with new seqs (the abuse tests) and the
fuzz seed corpora (tests/fuzz/make_seeds.py, which runs without grpc or generated classes)."""


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def length_delimited(field, payload):
    """Field number `field` holding `payload` (bytes, a string or a nested message): wire type 2."""
    return varint((field << 3) | 2) + varint(len(payload)) + payload
