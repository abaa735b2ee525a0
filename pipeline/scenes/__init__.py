"""Scene editing: saved versions of each camera's scene, validation for the editor, and the
camera-moved guard that compares the live view with the frame a scene was drawn on."""
