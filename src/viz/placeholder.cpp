// placeholder so the library has a source until the SVG/HTML code lands
