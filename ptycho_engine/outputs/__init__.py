"""Result files: reconstructions as NPZ (``results``), Ptychodus product HDF5
(``product``) and TIFF pairs (``tiff``), and the network as ONNX (``onnx``).
"""
